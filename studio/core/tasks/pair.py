"""Sentence-pair classification (paraphrase, entailment, question/answer match): two texts, one class."""

from __future__ import annotations

from typing import ClassVar

from studio.core.csvio import Table
from studio.core.data import find_pair_column, infer_columns
from studio.core.errors import DataError
from studio.core.tasks.base import Columns, Detection
from studio.core.tasks.single import SingleLabelTask


class PairTask(SingleLabelTask):
    """Single-label classification of a pair of texts, encoded together with the tokenizer's pair encoding."""

    name: ClassVar[str] = "pair"
    title: ClassVar[str] = "Sentence-pair classification"
    detect_priority: ClassVar[int] = 40

    def detect(
        self, table: Table, text: str | None = None, label: str | None = None, pair: str | None = None
    ) -> Detection | None:
        if pair == "":
            raise DataError("Sentence-pair classification needs a second text column; choose it as the pair column.")
        if pair is None:
            guess = infer_columns(table, text, label)
            pair = find_pair_column(table, guess.text, guess.label)
            if pair is None:
                return None
        columns = self.columns(table, text, label, pair)
        return Detection(
            self.name,
            columns,
            f"The column {pair!r} holds a second text beside {columns.text!r}, "
            f"and {columns.label!r} one class per pair.",
        )

    def columns(self, table: Table, text: str | None, label: str | None, pair: str | None) -> Columns:
        if pair == "":
            raise DataError("Sentence-pair classification needs a second text column; choose it as the pair column.")
        if pair is None:
            guess = infer_columns(table, text, label)
            pair = find_pair_column(table, guess.text, guess.label)
            if pair is None:
                raise DataError(
                    f"{table.path.name} has no column for the second text (such as 'text_pair', 'sentence2' or "
                    "'hypothesis'); choose it as the pair column."
                )
        return super().columns(table, text, label, pair)
