"""Why a model predicted what it did: integrated gradients on the input embeddings (captum), and its attention."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from studio.core.errors import StudioError

log = logging.getLogger(__name__)

# Integrated gradients' path from the baseline to the text: more steps, a closer approximation, more time.
DEFAULT_STEPS = 32
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class WordScore:
    """A word of the text (character offsets into it) and how much it pushed the prediction: >0 towards it."""

    word: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Attribution:
    """The attributions for one target: the label (or "TYPE: words" for an entity), per word and per sub-token.

    Scores are scaled so that the largest magnitude is 1; `total` is their unscaled sum and `delta` captum's
    convergence error (small compared with `total` means enough steps).
    """

    target: str
    words: tuple[WordScore, ...]
    tokens: tuple[tuple[str, float], ...]
    total: float
    delta: float


@dataclass(frozen=True)
class Attention:
    """Every layer's attention for a text: `weights[layer][head]` is a (tokens, tokens) matrix, rows attending."""

    tokens: tuple[str, ...]
    weights: np.ndarray  # (layers, heads, tokens, tokens)

    @property
    def layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def heads(self) -> int:
        return int(self.weights.shape[1])

    def matrix(self, layer: int, head: int) -> np.ndarray:
        if not (0 <= layer < self.layers and 0 <= head < self.heads):
            raise StudioError(
                f"This model has {self.layers} layers of {self.heads} heads; choose a layer from 1 to {self.layers} "
                f"and a head from 1 to {self.heads}."
            )
        return self.weights[layer, head]


def _encode(predictor, text: str):
    tokenizer = predictor.tokenizer
    return tokenizer(
        text, truncation=True, max_length=predictor.max_length, return_tensors="pt", return_offsets_mapping=True
    )


def explain(predictor, text: str, target: str | None = None, steps: int = DEFAULT_STEPS) -> list[Attribution]:
    """Integrated gradients of the prediction for `text` with respect to its token embeddings.

    Classification: one Attribution for `target` (a label name; default the predicted label, for multi-label every
    label above its threshold, else the likeliest). Regression: one for the value. NER: one per predicted entity,
    for its tag at its words. The baseline is the text with every token but [CLS]/[SEP] replaced by padding.
    """
    import torch
    from captum.attr import LayerIntegratedGradients

    if not text.strip():
        raise StudioError("Type a text to explain.")
    if predictor.takes_pairs:
        raise StudioError("Explaining a prediction works for models that read one text, not pairs of texts yet.")
    model, device = predictor.model, predictor.device
    encoded = _encode(predictor, text)
    offsets = encoded.pop("offset_mapping")[0].tolist()
    input_ids = encoded["input_ids"].to(device)
    attention_mask = encoded["attention_mask"].to(device)
    special = torch.tensor(
        predictor.tokenizer.get_special_tokens_mask(input_ids[0].tolist(), already_has_special_tokens=True),
        device=device,
    ).bool()
    pad = predictor.tokenizer.pad_token_id if predictor.tokenizer.pad_token_id is not None else 0
    baseline = torch.where(special, input_ids[0], torch.full_like(input_ids[0], pad)).unsqueeze(0)
    extra = {k: v.to(device) for k, v in encoded.items() if k not in ("input_ids", "attention_mask")}
    task = predictor.task.name

    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits[0].float()
    jobs: list[tuple[str, object]] = []  # (target's name, what forward() returns for it)
    if task == "token":
        jobs = _entity_jobs(predictor, text, logits, offsets)
        if not jobs:
            return []
    elif task == "regression":
        jobs = [("value", 0)]
    else:
        jobs = [(name, predictor.labels.index(name)) for name in _targets(predictor, text, logits, target)]

    def forward(ids, mask, selector):
        out = model(input_ids=ids, attention_mask=mask, **extra).logits
        if isinstance(selector, tuple):  # NER: the entity's tag logit summed over its sub-tokens
            positions, tag = selector
            return out[:, positions, tag].sum(dim=-1)
        return out[:, selector]

    layer = model.get_input_embeddings()
    lig = LayerIntegratedGradients(forward, layer)
    found = []
    was_training = model.training
    model.eval()
    try:
        for name, selector in jobs:
            attributions, delta = lig.attribute(
                inputs=input_ids,
                baselines=baseline,
                additional_forward_args=(attention_mask, selector),
                n_steps=steps,
                internal_batch_size=steps,
                return_convergence_delta=True,
            )
            scores = attributions.sum(dim=-1)[0].detach().float().cpu().numpy()
            found.append(_package(predictor, name, text, input_ids[0].tolist(), offsets, scores, float(delta.sum())))
    finally:
        model.train(was_training)
    return found


def _targets(predictor, text: str, logits, target: str | None) -> list[str]:
    if target is not None:
        if target not in predictor.labels:
            raise StudioError(f"The model has no label {target!r}; its labels are {', '.join(predictor.labels)}.")
        return [target]
    prediction = predictor.predict([text])[0]
    if predictor.task.name == "multi":
        return list(prediction.chosen) or [max(prediction.probabilities, key=prediction.probabilities.get)]
    return [prediction.label]


def _entity_jobs(predictor, text: str, logits, offsets) -> list[tuple[str, object]]:
    """(name, (sub-token positions, tag id)) for each predicted entity: its words' sub-tokens and its B-/I- tags'
    id at the first of them."""
    prediction = predictor.predict([text])[0]
    jobs: list[tuple[str, object]] = []
    label2id = {name: i for i, name in enumerate(predictor.labels)}
    for entity in prediction.entities:
        start, end = int(entity["start"]), int(entity["end"])
        positions = [i for i, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end]
        if not positions:
            continue
        kind = str(entity["entity"])
        first = int(logits[positions[0]].argmax())
        tag = first if predictor.labels[first].endswith(kind) else label2id.get(f"B-{kind}", first)
        jobs.append((f"{kind}: {entity['word']}", (positions, tag)))
    return jobs


def _package(predictor, name: str, text: str, ids: list[int], offsets, scores: np.ndarray, delta: float) -> Attribution:
    tokens = predictor.tokenizer.convert_ids_to_tokens(ids)
    total = float(scores.sum())
    scale = float(np.abs(scores).max()) or 1.0
    words = []
    for match in _WORD.finditer(text):
        inside = [i for i, (a, b) in enumerate(offsets) if b > a and a >= match.start() and b <= match.end()]
        if not inside:
            continue  # cut off by the maximum length
        words.append(WordScore(match.group(), match.start(), match.end(), float(scores[inside].sum() / scale)))
    # A word's score is the sum of its sub-tokens': rescale so that the strongest word is ±1 too.
    top = max((abs(w.score) for w in words), default=0.0) or 1.0
    words = [WordScore(w.word, w.start, w.end, w.score / top) for w in words]
    return Attribution(
        target=name,
        words=tuple(words),
        tokens=tuple((t, float(s / scale)) for t, s in zip(tokens, scores, strict=True)),
        total=total,
        delta=delta,
    )


def attention(predictor, text: str) -> Attention:
    """Each layer's and head's attention over the text's sub-tokens (eager attention, which can return it)."""
    import torch

    if not text.strip():
        raise StudioError("Type a text to see the model's attention for.")
    model = predictor.model
    encoded = _encode(predictor, text)
    encoded.pop("offset_mapping")
    inputs = {k: v.to(predictor.device) for k, v in encoded.items()}
    previous = getattr(model.config, "_attn_implementation", None)
    switched = False
    if previous not in (None, "eager") and hasattr(model, "set_attn_implementation"):
        # The fused kernels (sdpa, flash) never materialise the attention matrix; eager does.
        model.set_attn_implementation("eager")
        switched = True
    try:
        with torch.inference_mode():
            out = model(**inputs, output_attentions=True)
    finally:
        if switched:
            model.set_attn_implementation(previous)
    found = getattr(out, "attentions", None)
    if not found:
        raise StudioError("This model does not report its attention, so there is none to show.")
    weights = torch.stack([a[0].float() for a in found]).cpu().numpy()
    tokens = tuple(predictor.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist()))
    return Attention(tokens, weights)
