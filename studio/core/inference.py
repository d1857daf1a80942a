"""Predictor: load an exported model folder and label texts, or a whole CSV, with probabilities."""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import DataError, StudioError

log = logging.getLogger(__name__)

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """Make a cell inert in Excel and LibreOffice by prefixing a quote to a formula-like start."""
    return "'" + value if value.startswith(_FORMULA_START) else value


@dataclass(frozen=True)
class Prediction:
    """The predicted label, its probability, and every label's probability."""

    label: str
    score: float
    probabilities: dict[str, float]


class Predictor:
    """Labels texts with a model folder written by the studio's export (or any HF classifier folder)."""

    def __init__(
        self, folder: str | Path, device: str = "auto", allow_pickle: bool = False, max_length: int | None = None
    ):
        import torch
        from transformers import AutoModelForSequenceClassification

        from studio.core.devices import choose_device
        from studio.core.modeling import ModelSource, check_folder, load_tokenizer, max_length_of

        path = Path(folder).expanduser()
        if not path.is_dir():
            raise StudioError(f"There is no model folder {path}; choose a folder that the studio exported.")
        check_folder(path, allow_pickle)
        source = ModelSource("folder", str(path), str(path))
        self.tokenizer = load_tokenizer(source)
        try:
            self.model = AutoModelForSequenceClassification.from_pretrained(
                path, use_safetensors=None if allow_pickle else True
            )
        except Exception as exc:
            raise StudioError(
                f"The weights in {path} cannot be loaded ({(str(exc).splitlines() or [type(exc).__name__])[0]}); "
                "the files may be damaged: export the model again."
            ) from exc
        self.device = torch.device(choose_device(device))
        self.model.to(self.device).eval()
        config = self.model.config
        self.labels = [str(config.id2label.get(i, i)) for i in range(config.num_labels)]
        self.max_length = max_length or min(512, max_length_of(config, self.tokenizer))
        self.folder = path

    def predict(self, texts: list[str], batch_size: int = 32) -> list[Prediction]:
        """Predictions in the order of the texts; batches are formed from texts of similar length."""
        from studio.core.features import clip

        texts = [clip(t if isinstance(t, str) else str(t), self.max_length) for t in texts]
        # Batches of texts of similar length (characters stand in for tokens) carry little padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        probabilities: list = [None] * len(texts)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in chunk],
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            for i, p in zip(chunk, self._forward(batch), strict=False):
                probabilities[i] = p
        out = []
        for p in probabilities:
            best = max(range(len(p)), key=p.__getitem__)
            out.append(Prediction(self.labels[best], p[best], dict(zip(self.labels, p, strict=False))))
        return out

    def _forward(self, batch) -> list[list[float]]:
        import torch

        with torch.inference_mode():
            logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits
            return torch.softmax(logits.float(), dim=-1).cpu().tolist()

    def predict_csv(
        self,
        input_csv: str | Path,
        output_csv: str | Path,
        text_column: str | None = None,
        progress=None,
        stop=None,
        chunk_size: int = 256,
    ) -> int:
        """Write input rows plus predicted_label, score and one probability column per label; return rows."""
        from studio.core.csvio import read_table
        from studio.core.data import TEXT_NAMES

        table = read_table(input_csv)
        if text_column is None:
            lowered = {c.lower(): c for c in table.columns}
            named = [lowered[n] for n in TEXT_NAMES if n in lowered]
            text_column = (
                named[0] if named else max(table.columns, key=lambda c: sum(len(v) for v in table.column(c)[:500]))
            )
        if text_column not in table.columns:
            raise DataError(
                f"{table.path.name} has no column {text_column!r}; its columns are "
                f"{', '.join(repr(c) for c in table.columns)}."
            )
        texts = table.column(text_column)
        output = Path(output_csv).expanduser()
        if output.resolve() == table.path.resolve():
            raise DataError("The predictions would overwrite the input file; choose another output file.")
        tmp = output.with_name(f".{output.name}.partial")
        header = [*table.columns, "predicted_label", "score", *[f"p({label})" for label in self.labels]]
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([escape_cell(c) for c in header])
                for start in range(0, len(texts), chunk_size):
                    if stop is not None and stop.is_set():
                        raise StudioError("Prediction was stopped; no output file was written.")
                    predictions = self.predict(texts[start : start + chunk_size])
                    for row, pred in zip(table.rows[start : start + chunk_size], predictions, strict=False):
                        writer.writerow(
                            [escape_cell(c) for c in row]
                            + [
                                escape_cell(pred.label),
                                f"{pred.score:.6f}",
                                *[f"{pred.probabilities[label]:.6f}" for label in self.labels],
                            ]
                        )
                    if progress is not None:
                        progress(min(start + chunk_size, len(texts)), len(texts))
            os.replace(tmp, output)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StudioError(f"Could not write the predictions to {output}: {exc.strerror or exc}.") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return len(texts)
