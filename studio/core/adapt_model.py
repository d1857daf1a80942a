"""The masked-LM model of a domain adaptation: load it (a fresh head where it has none) and save it for training."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from studio.core.errors import ModelError

log = logging.getLogger(__name__)


def load_masked_lm(spec: str, allow_pickle: bool = False, trust_remote_code: bool = False):
    """(model, tokenizer, source, fresh_head): the model with its masked-LM head, or a fresh one from its config.

    A fresh head's decoder is tied to the input embeddings, as BERT's own is, so only its small transform starts
    from random weights.
    """
    from transformers import AutoModelForMaskedLM
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    from studio.core.modeling import hub_error, load_config, load_tokenizer, resolve_source

    source = resolve_source(spec)
    config = load_config(source, trust_remote_code, allow_pickle)
    if config.model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES and not trust_remote_code:
        raise ModelError(
            f"{source.display_name} is a {config.model_type!r} model, which is not trained by masking words; "
            "adapt an encoder such as BERT, RoBERTa, DeBERTa, ELECTRA or DistilBERT."
        )
    tokenizer = load_tokenizer(source, trust_remote_code)
    if tokenizer.mask_token is None:
        raise ModelError(
            f"The tokenizer of {source.display_name} has no mask token, so the model cannot learn by masked words; "
            "choose a BERT-like encoder."
        )
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(
            source.location,
            output_loading_info=True,
            use_safetensors=None if allow_pickle else True,
            trust_remote_code=trust_remote_code,
        )
    except Exception as exc:
        if source.kind == "hub":
            raise hub_error(source, exc) from exc
        raise ModelError(
            f"The weights in {source.location} cannot be loaded as a masked language model ({exc}); the files may "
            "be damaged or incomplete: save or download the model again."
        ) from exc
    base = getattr(model, "base_model_prefix", "")
    # Missing weights outside the encoder are the head: the model was saved without one (a BertModel).
    fresh = any(not k.startswith(f"{base}.") for k in info.get("missing_keys", ()))
    if fresh:
        output, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
        if output is not None and output.weight is not embeddings.weight:
            model.config.tie_word_embeddings = True
            output.weight = embeddings.weight
    return model, tokenizer, source, fresh


# A fresh head's LayerNorm scale: small, so that its first scores are the corpus's word frequencies (set in the
# output bias) plus a little from the context, and its gradients are sound (at 1 the random transform's scores
# spread so far that the held-out perplexity starts near 60,000 on the built-in model; at this scale near 1,700).
FRESH_HEAD_SCALE = 0.1


def start_fresh_head(model, token_ids) -> None:
    """A fresh masked-LM head starts as the corpus's unigram model: output bias log p(token), a small transform.

    Without this, the first hundred steps go into learning word frequencies through the encoder, and the encoder
    the user wanted adapted is pushed around by a random head (measured on ag_news with the built-in model:
    held-out perplexity before adapting 57,284 with the random head, 1,727 started this way).
    """
    import numpy as np
    import torch

    output = model.get_output_embeddings()
    vocab = int(output.weight.shape[0])
    counts = np.bincount(np.asarray(token_ids, dtype=np.int64).ravel(), minlength=vocab)[:vocab].astype(np.float64)
    # Add-one smoothing: a word the corpus lacks is rare, not impossible.
    log_p = np.log((counts + 1.0) / (counts.sum() + vocab))
    base = getattr(model, model.base_model_prefix, None)
    inside = {id(p) for p in base.parameters()} if base is not None else set()
    with torch.no_grad():
        if getattr(output, "bias", None) is not None:
            output.bias.copy_(torch.as_tensor(log_p, dtype=output.bias.dtype))
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm) and id(module.weight) not in inside:
                module.weight.fill_(FRESH_HEAD_SCALE)


def head_parameters(model) -> list:
    """The weights outside the encoder (the masked-LM head; the decoder tied to the embeddings is the encoder's)."""
    base = getattr(model, model.base_model_prefix, None)
    inside = {id(p) for p in base.parameters()} if base is not None else set()
    return [p for p in model.parameters() if id(p) not in inside]


def _source_weights(location: str) -> list[Path]:
    folder = Path(location)
    if folder.is_dir():
        return sorted(folder.glob("*.safetensors"))
    try:
        from transformers.utils import cached_file

        found = cached_file(location, "model.safetensors", _raise_exceptions_for_missing_entries=False)
    except Exception:  # the Hub's cache may lack it: the pooler then starts afresh in training
        return []
    return [Path(found)] if found else []


def carried_pooler(location: str, model) -> dict:
    """The source model's pooler weights, named as in `model`'s checkpoint (masked-LM models drop the pooler).

    A classifier trained on the adapted model (`studio train --model`) then starts from the same pooler as one
    trained on the original.
    """
    from safetensors import safe_open

    base = getattr(model, "base_model_prefix", "")
    own = set(model.state_dict())
    found = {}
    for file in _source_weights(location):
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                if "pooler." not in key:
                    continue
                name = key if key.startswith(f"{base}.") else f"{base}.{key}"
                if name not in own:
                    found[name] = handle.get_tensor(key)
    return found


def save_masked_lm(folder: Path, model, tokenizer, extra: dict) -> None:
    """save_pretrained into `folder`, with `extra` tensors (the carried pooler) added to its weights."""
    from safetensors.torch import load_file, save_file

    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if not extra:
        return
    index = folder / "model.safetensors.index.json"
    extra = {k: v.contiguous() for k, v in extra.items()}
    if index.is_file():
        save_file(extra, str(folder / "model-pooler.safetensors"), metadata={"format": "pt"})
        data = json.loads(index.read_text(encoding="utf-8"))
        data["weight_map"].update(dict.fromkeys(extra, "model-pooler.safetensors"))
        index.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return
    weights = folder / "model.safetensors"
    tensors = load_file(str(weights))
    save_file({**tensors, **extra}, str(weights), metadata={"format": "pt"})


def adapt_card(metrics: dict) -> str:
    """The README of an adapted model: what it is, how well it predicts masked words, how to fine-tune it next."""
    before, after = metrics.get("perplexity_before"), metrics.get("perplexity_after")
    change = f" ({(after / before - 1):+.0%})" if before and after else ""
    return "\n".join(
        [
            "---",
            "library_name: transformers",
            "pipeline_tag: fill-mask",
            "tags:",
            "- fine-tuning-studio",
            "- domain-adaptation",
            "---",
            "",
            f"# {metrics.get('base_model', 'Model')} adapted to {metrics.get('corpus', 'a corpus')}",
            "",
            f"Masked-language-model pre-training continued with Fine-Tuning Studio on `{metrics.get('corpus')}` "
            f"({metrics.get('train_tokens', '?'):,} tokens, {metrics.get('epochs', '?')} epochs, "
            f"{metrics.get('mlm_probability', 0.15):.0%} of "
            f"{'whole words' if metrics.get('whole_word') else 'tokens'} masked).",
            "",
            f"- Held-out perplexity: {before:.2f} before, {after:.2f} after{change}, on "
            f"{metrics.get('heldout_tokens', '?'):,} tokens of passages it did not train on"
            if before and after
            else "- Held-out perplexity: see adapt_metrics.json",
            "- The masked-LM head"
            + (" was new (the base model had none)" if metrics.get("fresh_head") else " is the base model's")
            + "; the base model's pooler is kept beside it for classifiers.",
            "",
            "## Use",
            "",
            "Fine-tune it on labelled data: `studio train --train data.csv --model path/to/this/folder`, or:",
            "",
            "```python",
            "from transformers import pipeline",
            'fill = pipeline("fill-mask", model="path/to/this/folder")',
            f'print(fill("The {metrics.get("mask_token", "[MASK]")} is here."))',
            "```",
            "",
        ]
    )
