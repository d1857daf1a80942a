"""Parity of an ONNX export with its PyTorch model on the run's validation rows: agreement, differences, F1."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# fp32 ONNX must make the PyTorch model's decision on at least this share of the validation rows.
MIN_AGREEMENT = 0.995
# A regression value "agrees" when it lies within this share of the training values' standard deviation.
VALUE_TOLERANCE = 0.01


@dataclass
class ParityReport:
    """What parity.json holds: how closely the ONNX model follows the PyTorch one on the validation rows.

    `label_agreement` is the share of rows with the same decision (classes; the set of labels for multi-label;
    the value within VALUE_TOLERANCE standard deviations for regression; for token classification, the share of
    words with the same tag). `max_abs_diff` is the largest difference in a probability (the value, for
    regression). `f1`/`f1_pytorch` are the ONNX and PyTorch models' F1 on the rows (macro F1 for classes and
    labels, entity F1 for tokens; None for regression, which has `pearson`/`pearson_pytorch`).
    """

    format: str
    task: str
    rows: int
    label_agreement: float
    max_abs_diff: float
    compared: str
    metric: str
    score: float
    score_pytorch: float
    f1: float | None = None
    f1_pytorch: float | None = None
    pearson: float | None = None
    pearson_pytorch: float | None = None
    words: int | None = None
    model_bytes: int = 0
    fp32_model_bytes: int | None = None
    pytorch_model_bytes: int = 0
    min_agreement: float = MIN_AGREEMENT
    validation: str = ""
    seconds: float = 0.0
    versions: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether the agreement reaches MIN_AGREEMENT (required of fp32 exports; int8 reports it)."""
        return self.label_agreement >= self.min_agreement

    @property
    def score_lost(self) -> float:
        """Points of the task's figure the ONNX model loses against PyTorch (negative: it gained)."""
        return 100 * (self.score_pytorch - self.score)

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed, "score_lost_points": self.score_lost}

    def sentence(self) -> str:
        """One line for the CLI and the app: agreement, largest difference and the task's figure against PyTorch."""
        unit = (
            f"{self.words:,} words of {self.rows:,} validation sentences"
            if self.words
            else f"{self.rows:,} validation rows"
        )
        what = "value" if self.task == "regression" else "probability"
        line = (
            f"{self.format}: agrees with the PyTorch model on {self.label_agreement:.2%} of {unit} (largest "
            f"{what} difference {self.max_abs_diff:.2g}); {self.metric} {self.score:.4f} against "
            f"{self.score_pytorch:.4f}"
        )
        size = f"; {self.model_bytes / 2**20:.1f} MB"
        if self.fp32_model_bytes:
            size += f" (fp32 {self.fp32_model_bytes / 2**20:.1f} MB)"
        return line + size


@dataclass
class Outputs:
    """One model's outputs on the validation rows, in a form both sides share."""

    decisions: list  # per row: the label (str) or, for tokens, the list of word tags
    values: np.ndarray  # probabilities (rows x labels, or words x labels for tokens), or the regression values


def sequence_outputs(task, logits, config) -> Outputs:
    """Decisions and probabilities (or values) of a sequence task's logits, by the task's own decode()."""
    predictions = task.decode(logits, config)
    if task.name == "regression":
        return Outputs([p.value for p in predictions], np.asarray([p.value for p in predictions], dtype=np.float64))
    labels = [str(config.id2label.get(i, i)) for i in range(config.num_labels)]
    values = np.asarray([[p.probabilities[n] for n in labels] for p in predictions], dtype=np.float64)
    decisions = [p.chosen if task.name == "multi" else p.label for p in predictions]
    return Outputs(decisions, values.reshape(len(predictions), len(labels)))


def word_outputs(probabilities: list[np.ndarray], labels: list[str]) -> Outputs:
    """Per sentence the repaired BIO tags of its words, and all words' probabilities stacked."""
    from studio.core.tasks.token import repair_bio

    tags = [repair_bio([labels[i] for i in p.argmax(axis=-1)]) if len(p) else [] for p in probabilities]
    stacked = np.concatenate([p for p in probabilities if len(p)]) if any(len(p) for p in probabilities) else None
    return Outputs(tags, stacked if stacked is not None else np.zeros((0, len(labels))))


def agreement(task: str, onnx: Outputs, torch: Outputs, target_std: float = 1.0) -> tuple[float, float]:
    """(label agreement, largest absolute difference) between the two models' outputs."""
    diff = float(np.max(np.abs(onnx.values - torch.values))) if onnx.values.size else 0.0
    if task == "token":
        pairs = [
            (a, b) for x, y in zip(onnx.decisions, torch.decisions, strict=True) for a, b in zip(x, y, strict=True)
        ]
        return (sum(a == b for a, b in pairs) / len(pairs) if pairs else 1.0), diff
    if task == "regression":
        close = np.abs(onnx.values - torch.values) <= VALUE_TOLERANCE * (target_std or 1.0)
        return (float(close.mean()) if close.size else 1.0), diff
    same = [a == b for a, b in zip(onnx.decisions, torch.decisions, strict=True)]
    return (sum(same) / len(same) if same else 1.0), diff


def task_score(task, outputs: Outputs, examples, rows: int) -> tuple[str, float]:
    """(name, value) of the task's figure on the first `rows` validation rows: macro F1 (single, pair, multi),
    entity F1 (token) or Pearson's r (regression)."""
    truth = examples.validation_labels[:rows]
    labels = list(examples.labels)
    if task.name == "regression":
        y = np.asarray(truth, dtype=np.float64)
        p = outputs.values.reshape(-1)
        r = float(np.corrcoef(y, p)[0, 1]) if len(y) > 1 and y.std() > 0 and p.std() > 0 else 0.0
        return "pearson", r
    if task.name == "token":
        from studio.core.tasks.token import seqeval_report

        true_tags = [[labels[i] for i in row] for row in truth]
        types = sorted({t[2:] for row in true_tags for t in row if t != "O"})
        return "f1", float(seqeval_report(true_tags, outputs.decisions, types)["f1"])
    from sklearn.metrics import f1_score

    if task.name == "multi":
        ids = {n: i for i, n in enumerate(labels)}
        predicted = np.zeros((len(outputs.decisions), len(labels)), dtype=int)
        for r, chosen in enumerate(outputs.decisions):
            for name in chosen:
                predicted[r, ids[name]] = 1
        y_true = (np.asarray(truth, dtype=np.float64) >= 0.5).astype(int)
        return "f1", float(f1_score(y_true, predicted, average="macro", zero_division=0))
    ids = {n: i for i, n in enumerate(labels)}
    predicted_ids = [ids[d] for d in outputs.decisions]
    return "f1", float(
        f1_score(truth, predicted_ids, labels=list(range(len(labels))), average="macro", zero_division=0)
    )


def folder_bytes(folder: Path, suffixes: tuple[str, ...] = (".safetensors", ".bin")) -> int:
    """Bytes of a folder's weight files."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.suffix in suffixes)
