"""The interface every task implements: detection, labels, the model head, tokenization, metrics, decoding, export.

The engine, the CLI and the pages ask the task (`studio.core.tasks.get_task(name)`); they never branch on its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from studio.core.csvio import Table
    from studio.core.rare_classes import LossOptions


@dataclass(frozen=True)
class Columns:
    """Which columns hold the text, the label (tags for token classification) and the optional second text."""

    text: str
    label: str
    pair: str | None = None


@dataclass(frozen=True)
class Detection:
    """A task proposed for a table, the columns it would use, and the reason to show the user."""

    task: str
    columns: Columns
    reason: str


@dataclass(frozen=True)
class Distribution:
    """What the Data page draws for the label column: bars of (name, count), titled for the task.

    `kind` is "counts" (classes, labels, entity types: one bar each) or "histogram" (regression: one bar per bin,
    named by its range). `note` is one line under the chart (such as "2.3 labels per row on average").
    """

    kind: str
    title: str
    bars: list[tuple[str, int]]
    note: str = ""


@dataclass(frozen=True)
class SplitSettings:
    """How to hold out validation rows when there is no validation file."""

    share: float = 0.1
    seed: int = 42
    max_rows: int = 5000


@dataclass(frozen=True)
class Examples:
    """Rows ready to tokenize, with the label names in id order.

    Per task, a row's text is a str (a list of words for token classification) and its label is
    an int class id (single, pair), a list of 0/1 floats, one per label (multi), a float in the user's units
    (regression), or a list of tag ids, one per word (token). `pairs` hold the second texts when there is a pair
    column. `target_scale` is regression's (mean, standard deviation) of the training targets.
    """

    task: str
    train_texts: list
    train_labels: list
    validation_texts: list
    validation_labels: list
    labels: tuple[str, ...]
    columns: Columns
    split_from_train: bool
    warnings: tuple[str, ...] = field(default=())
    train_pairs: list[str] | None = None
    validation_pairs: list[str] | None = None
    target_scale: tuple[float, float] | None = None

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.labels)}


@dataclass(frozen=True)
class Prediction:
    """One text's prediction, for the Inference tab, `studio predict` and the CSV writer.

    `label` is what to show in one cell: the class, the labels above their thresholds joined by ";", the value,
    or the entities as "type: words; ...". `score` is its probability (the value itself for regression).
    `probabilities` holds every label's (classification). `chosen` lists the labels above threshold (multi-label),
    `value` the regression value, `entities` the NER spans (dicts with entity, word, start, end, score).
    """

    label: str
    score: float
    probabilities: dict[str, float] = field(default_factory=dict)
    chosen: tuple[str, ...] = ()
    value: float | None = None
    entities: tuple[dict, ...] = ()


class TaskMetrics:
    """The Trainer's compute_metrics for a task: returns the scalars, keeps the full report of the last evaluation.

    The scalars hold the task's main figure under `Task.main_metric`, "loss" (the task's own loss over the
    gathered predictions: the Trainer's eval_loss is off under torchrun) and "selection_score" (what the best
    checkpoint is chosen on: the main figure, ties to the lower loss). `last_report` holds everything the
    Evaluate page and metrics.json show, as plain Python numbers, lists and dicts.
    """

    def __init__(self) -> None:
        self.last_report: dict | None = None

    def __call__(self, eval_prediction) -> dict[str, float]:
        raise NotImplementedError


class Task:
    """One kind of problem. Subclasses set the class attributes and implement the methods marked abstract."""

    name: ClassVar[str]
    title: ClassVar[str]
    # The key of the headline figure in the scalars and in metrics.json, and its title on plots and pages.
    main_metric: ClassVar[str] = "f1"
    main_metric_title: ClassVar[str] = "F1"
    # Scalars the live log line and the CLI show after each evaluation, in order (keys of TaskMetrics' scalars).
    shown_scalars: ClassVar[tuple[str, ...]] = ("f1", "accuracy")
    # The transformers.pipeline call that loads an export unchanged: its task and keyword arguments.
    pipeline_task: ClassVar[str] = "text-classification"
    pipeline_kwargs: ClassVar[dict[str, Any]] = {}
    problem_type: ClassVar[str | None] = "single_label_classification"
    # The learning rate used when the user leaves it to the task (TrainConfig.learning_rate is None).
    default_learning_rate: ClassVar[float] = 5e-5
    # LoRA's adapters start at zero and are few: they need about ten times full fine-tuning's step.
    default_lora_learning_rate: ClassVar[float] = 5e-4
    # Whether the rows can carry a second text (the tokenizer's pair encoding).
    takes_pairs: ClassVar[bool] = True

    # ---- data -------------------------------------------------------------------------------------------
    # Tasks are asked in this order (lowest first); the first that recognises the table is proposed.
    detect_priority: ClassVar[int] = 50

    def detect(
        self, table: Table, text: str | None = None, label: str | None = None, pair: str | None = None
    ) -> Detection | None:
        """This task with its columns and a reason, when the table looks like its data; else None.

        Columns the user chose are given; the detection looks at those and infers only the others.
        """
        raise NotImplementedError

    def columns(self, table: Table, text: str | None, label: str | None, pair: str | None) -> Columns:
        """The columns to use: those given, the rest inferred; DataError naming a column the table lacks."""
        raise NotImplementedError

    def load(self, table: Table, validation: Table | None, columns: Columns, split: SplitSettings) -> Examples:
        """Checked examples from the training table (and the validation table, else a held-out split).

        Bad rows get a DataError sentence naming the file, the column and the line numbers; rows that can be
        left out (no text, no second text) are dropped and counted in `warnings`.
        """
        raise NotImplementedError

    def distribution(self, table: Table, columns: Columns) -> Distribution:
        """What the Data page's chart shows for this table's label column."""
        raise NotImplementedError

    # ---- model ------------------------------------------------------------------------------------------
    def model_class(self) -> Any:
        """The transformers Auto class whose head this task trains."""
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def model_config(self, examples: Examples) -> dict[str, Any]:
        """Keyword arguments for from_pretrained: num_labels, id2label, label2id, problem_type."""
        return {
            "num_labels": len(examples.labels),
            "id2label": dict(enumerate(examples.labels)),
            "label2id": examples.label2id,
            "problem_type": self.problem_type,
        }

    # ---- features ---------------------------------------------------------------------------------------
    def tokenize(self, examples: Examples, tokenizer, max_length: int) -> tuple[Any, Any]:
        """(train, validation) datasets.Dataset of unpadded input ids and labels, cached by content."""
        from studio.core.features import tokenize_sequences

        return tokenize_sequences(examples, tokenizer, max_length, self.label_arrow_type())

    def label_arrow_type(self) -> Any:
        """The Arrow type of the `labels` column for tokenize_sequences."""
        import pyarrow as pa

        return pa.int64()

    def encode_labels(self, labels: list, examples: Examples) -> list:
        """The labels as the model's loss wants them (regression scales its targets here)."""
        return labels

    def collator(self, tokenizer, pad_to_multiple_of: int | None) -> Any:
        """Pads each batch to its longest row."""
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def loss(self, examples: Examples, options: LossOptions | None = None) -> Callable | None:
        """A Trainer compute_loss_func (outputs, labels, num_items_in_batch) -> loss, or None for the model's own.

        Class weights and label smoothing (`options`) make it a weighted, smoothed cross-entropy over the classes.
        """
        if options is None or options.plain:
            return None
        from studio.core.rare_classes import WeightedCrossEntropy

        return WeightedCrossEntropy(options)

    # ---- metrics ----------------------------------------------------------------------------------------
    def metrics(self, examples: Examples) -> TaskMetrics:
        raise NotImplementedError

    def summary(self, report: dict) -> dict[str, Any]:
        """The figures metrics.json keeps from a final report (always including `main_metric`)."""
        raise NotImplementedError

    # ---- export and prediction --------------------------------------------------------------------------
    def prepare_export(self, model, examples: Examples, report: dict) -> None:
        """Make the model's config (and head) what the pipeline call needs; called once, before saving."""
        model.config.studio_task = self.name
        if examples.columns.pair:
            model.config.studio_pair_column = examples.columns.pair

    def predict(self, runner, texts: list[str], pairs: list[str] | None = None) -> list[Prediction]:
        """Predictions for texts (and their second texts) with a loaded model; see inference.ModelRunner."""
        logits = runner.sequence_logits(texts, pairs)
        return self.decode(logits, runner.config)

    def decode(self, logits, config) -> list[Prediction]:
        """Predictions from a (rows, outputs) numpy array of logits and the model's config."""
        raise NotImplementedError

    def csv_header(self, config) -> list[str]:
        """The columns predict_csv adds after the input's own."""
        raise NotImplementedError

    def csv_cells(self, prediction: Prediction, config) -> list[str]:
        """The cells of csv_header for one prediction."""
        raise NotImplementedError

    def card_lines(self, metrics: dict) -> list[str]:
        """Markdown lines of the model card's results section beyond the scalar table (per-label tables)."""
        return []
