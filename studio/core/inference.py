"""Predictor: load an exported model folder and label texts, or a whole CSV, with probabilities."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

from studio.core.errors import DataError, ModelError, StudioError
from studio.core.tasks.base import Prediction

log = logging.getLogger(__name__)

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """Make a cell inert in Excel and LibreOffice by prefixing a quote to a formula-like start.

    A plain number (a negative regression value) is no formula and stays a number.
    """
    if not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def task_of(config) -> str:
    """The task a model folder was trained for: the studio's note in config.json, else its head's kind."""
    noted = getattr(config, "studio_task", None)
    if isinstance(noted, str) and noted:
        return noted
    architectures = " ".join(getattr(config, "architectures", None) or ())
    if "TokenClassification" in architectures:
        return "token"
    problem = getattr(config, "problem_type", None)
    if problem == "multi_label_classification":
        return "multi"
    if problem == "regression" or getattr(config, "num_labels", 2) == 1:
        return "regression"
    return "single"


class ModelRunner:
    """A loaded model and tokenizer on a device: what a task's predict() runs texts through."""

    def __init__(self, model, tokenizer, device, max_length: int):
        self.model = model
        self.tokenizer = tokenizer
        self.config = model.config
        self.device = device
        self.max_length = max_length

    def read_words(self, sentences: list[list[str]]):
        """For sentences split into words: the (rows, tokens, labels) softmax and each row's token-to-word ids, what
        studio.core.tasks.token.word_probabilities reads its windows with."""
        import torch

        if not getattr(self.tokenizer, "is_fast", False):
            raise ModelError(
                "This model's tokenizer has no fast (Rust) version, which token classification needs to align "
                "words with their sub-words."
            )
        batch = self.tokenizer(
            sentences,
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        with torch.inference_mode():
            inputs = {k: v.to(self.device) for k, v in batch.items()}
            probs = torch.softmax(self.model(**inputs).logits.float(), dim=-1).cpu().numpy()
        return probs, [batch.word_ids(row) for row in range(len(sentences))]

    def sequence_logits(self, texts: list[str], pairs: list[str] | None = None, batch_size: int = 32):
        """(rows, outputs) numpy logits in the order of the texts: tokenized once, then run in batches of rows of
        one token length (features.length_slices), which carry almost no padding."""
        import numpy as np
        import torch

        from studio.core.features import CPU_BATCH_TOKENS, clip, length_slices

        texts = [clip(t if isinstance(t, str) else str(t), self.max_length) for t in texts]
        if pairs is not None:
            pairs = [clip(t if isinstance(t, str) else str(t), self.max_length) for t in pairs]
        out = np.zeros((len(texts), self.config.num_labels), dtype=np.float32)
        if not texts:
            return out
        encoded = self.tokenizer(
            texts,
            pairs,
            truncation="longest_first" if pairs is not None else True,
            max_length=self.max_length,
            padding=True,
            return_tensors="np",
        )
        arrays = dict(encoded)
        mask = arrays.get("attention_mask")
        # A tokenizer that returns no mask: every row counts as the padded length (no cutting, still right).
        lengths = (mask.sum(axis=1) if mask is not None else np.full(len(texts), arrays["input_ids"].shape[1])).tolist()
        left = self.tokenizer.padding_side == "left"
        budget = CPU_BATCH_TOKENS if self.device.type == "cpu" else None
        for chunk, batch in length_slices(arrays, lengths, left, batch_size, budget):
            with torch.inference_mode():
                logits = self.model(**{k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}).logits
            out[chunk] = logits.float().cpu().numpy()
        return out


class Predictor:
    """Predicts with a model folder written by the studio's export (or any HF classifier folder), for its task."""

    def __init__(
        self, folder: str | Path, device: str = "auto", allow_pickle: bool = False, max_length: int | None = None
    ):
        import torch
        from transformers import AutoConfig

        from studio.core.devices import choose_device
        from studio.core.modeling import ModelSource, check_folder, load_tokenizer, max_length_of
        from studio.core.tasks import get_task

        path = Path(folder).expanduser()
        if not path.is_dir():
            raise StudioError(f"There is no model folder {path}; choose a folder that the studio exported.")
        check_folder(path, allow_pickle)
        source = ModelSource("folder", str(path), str(path))
        tokenizer = load_tokenizer(source)
        try:
            config = AutoConfig.from_pretrained(path)
            self.task = get_task(task_of(config))
            model = self.task.model_class().from_pretrained(path, use_safetensors=None if allow_pickle else True)
        except StudioError:
            raise
        except Exception as exc:
            raise StudioError(
                f"The weights in {path} cannot be loaded ({(str(exc).splitlines() or [type(exc).__name__])[0]}); "
                "the files may be damaged: export the model again."
            ) from exc
        torch_device = torch.device(choose_device(device))
        model.to(torch_device).eval()
        self.runner = ModelRunner(
            model, tokenizer, torch_device, max_length or min(512, max_length_of(model.config, tokenizer))
        )
        self.model, self.tokenizer, self.device = model, tokenizer, torch_device
        self.max_length = self.runner.max_length
        self.labels = [str(model.config.id2label.get(i, i)) for i in range(model.config.num_labels)]
        self.pair_column: str | None = getattr(model.config, "studio_pair_column", None)
        self.takes_pairs = bool(self.pair_column)
        self.folder = path

    @property
    def threshold(self) -> float | None:
        """The threshold a binary model applies to `threshold_label`'s probability (None: the likeliest class)."""
        from studio.core.thresholds import rule_of

        rule = rule_of(self.model.config, self.labels)
        return None if rule is None else rule.threshold

    @property
    def threshold_label(self) -> str | None:
        """The class whose probability the threshold applies to, for a binary model that stores one."""
        from studio.core.thresholds import rule_of

        rule = rule_of(self.model.config, self.labels)
        return None if rule is None else self.labels[rule.positive]

    def use_threshold(self, threshold: float) -> None:
        """Decide a binary model's predictions by this threshold on threshold_label's probability from now on (the
        app's slider); the folder is unchanged (studio.core.thresholds.set_threshold saves one)."""
        from studio.core.thresholds import LABEL_KEY, THRESHOLD_KEY

        if len(self.labels) != 2 or self.task.name not in ("single", "pair"):
            raise StudioError("Only a binary single-label model has one decision threshold to set.")
        if not 0 < threshold < 1:
            raise StudioError(f"A threshold must lie between 0 and 1 (got {threshold}); 0.5 is the usual one.")
        # The class the saved fold belongs to stays the positive one.
        name = self.threshold_label or self.labels[1]
        setattr(self.model.config, THRESHOLD_KEY, float(threshold))
        setattr(self.model.config, LABEL_KEY, name)

    def predict(self, texts: list[str], pairs: list[str] | None = None, batch_size: int = 32) -> list[Prediction]:
        """Predictions in the order of the texts (with their second texts, for a model trained on pairs)."""
        if self.takes_pairs and pairs is None:
            raise DataError(
                "This model was trained on pairs of texts; give each text its second text too "
                "(--text-pair on the command line)."
            )
        if pairs is not None and len(pairs) != len(texts):
            raise DataError(f"There are {len(texts)} texts but {len(pairs)} second texts; give one for each text.")
        if not texts:
            return []
        return self.task.predict(self.runner, list(texts), None if pairs is None else list(pairs))

    def predict_csv(
        self,
        input_csv: str | Path,
        output_csv: str | Path,
        text_column: str | None = None,
        progress=None,
        stop=None,
        chunk_size: int = 256,
        pair_column: str | None = None,
    ) -> int:
        """Write the input rows plus the task's prediction columns; return the number of rows."""
        from studio.core.csvio import read_table
        from studio.core.data import TEXT_NAMES

        table = read_table(input_csv)
        if text_column is None:
            lowered = {c.lower(): c for c in table.columns}
            named = [lowered[n] for n in TEXT_NAMES if n in lowered]
            text_column = (
                named[0] if named else max(table.columns, key=lambda c: sum(len(v) for v in table.column(c)[:500]))
            )
        if self.takes_pairs and pair_column is None:
            pair_column = self._pair_column_of(table, text_column)
        for column in (text_column, pair_column):
            if column is not None and column not in table.columns:
                raise DataError(
                    f"{table.path.name} has no column {column!r}; its columns are "
                    f"{', '.join(repr(c) for c in table.columns)}."
                )
        texts = table.column(text_column)
        pairs = table.column(pair_column) if pair_column else None
        output = Path(output_csv).expanduser()
        if output.resolve() == table.path.resolve():
            raise DataError("The predictions would overwrite the input file; choose another output file.")
        tmp = output.with_name(f".{output.name}.partial")
        config = self.model.config
        header = [*table.columns, *self.task.csv_header(config)]
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([escape_cell(c) for c in header])
                for start in range(0, len(texts), chunk_size):
                    if stop is not None and stop.is_set():
                        raise StudioError("Prediction was stopped; no output file was written.")
                    end = start + chunk_size
                    predictions = self.predict(texts[start:end], pairs[start:end] if pairs is not None else None)
                    for row, pred in zip(table.rows[start:end], predictions, strict=False):
                        cells = [*row, *self.task.csv_cells(pred, config)]
                        writer.writerow([escape_cell(c) for c in cells])
                    if progress is not None:
                        progress(min(end, len(texts)), len(texts))
            os.replace(tmp, output)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StudioError(f"Could not write the predictions to {output}: {exc.strerror or exc}.") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return len(texts)

    def _pair_column_of(self, table, text_column: str) -> str:
        from studio.core.data import find_pair_column

        if self.pair_column in table.columns:
            return self.pair_column  # type: ignore[return-value]
        found = find_pair_column(table, text_column)
        if found is None:
            raise DataError(
                f"This model reads pairs of texts, and {table.path.name} has no column for the second text "
                f"(it was {self.pair_column!r} in training); choose the second-text column."
            )
        return found
