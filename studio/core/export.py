"""Write a standard Hugging Face model folder atomically: weights, tokenizer, label maps, model card, metrics."""

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


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "there is no space left on that disk; free some space or choose another folder"
    if exc.errno in (errno.EROFS,):
        return "that file system is read-only; choose another folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "you do not have permission to write there; choose another folder"
    return f"{exc.strerror or exc}; choose another folder"


@contextlib.contextmanager
def atomic_folder(dest: str | Path):
    """Yield a temporary folder beside dest; on success it becomes dest, on failure it disappears."""
    dest = Path(dest).expanduser().absolute()
    if dest.exists() and not dest.is_dir():
        raise ExportError(f"{dest} is a file; choose a folder to export the model into.")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / "config.json").is_file():
        raise ExportError(
            f"{dest} already holds other files; choose an empty folder or a new name, so nothing of yours is replaced."
        )
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
