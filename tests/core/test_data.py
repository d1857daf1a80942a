"""Column inference, label maps, dropped rows and the stratified validation split."""

from collections import Counter

import pytest

from studio.core.csvio import read_table
from studio.core.data import infer_columns, label_distribution, label_order, load_examples
from studio.core.errors import DataError
from tests.conftest import write_csv


def test_columns_inferred_by_name_and_by_shape(tmp_path):
    named = write_csv(tmp_path / "a.csv", [("1", "hello there", "pos")] * 3, header=("id", "review", "sentiment"))
    assert infer_columns(read_table(named)).__dict__ == {"text": "review", "label": "sentiment"}
    rows = [(f"a fairly long sentence number {i} with words", ["x", "y"][i % 2]) for i in range(20)]
    shaped = write_csv(tmp_path / "b.csv", rows, header=("body_of_it", "kind_of_it"))
    cols = infer_columns(read_table(shaped))
    assert (cols.text, cols.label) == ("body_of_it", "kind_of_it")


def test_label_order_is_numeric_for_integers_and_alphabetical_otherwise():
    assert label_order(["10", "2", "1", "2"]) == ("1", "2", "10")
    assert label_order(["spam", "Ham", "ham"]) == ("Ham", "ham", "spam")


def test_split_is_stratified_and_seeded(small_csv):
    a = load_examples(small_csv, validation_share=0.2, seed=1)
    b = load_examples(small_csv, validation_share=0.2, seed=1)
    assert a.validation_texts == b.validation_texts
    assert len(a.validation_texts) == 12 and len(a.train_texts) == 48
    assert Counter(a.validation_labels) == {0: 6, 1: 6}
    assert a.labels == ("negative", "positive") and a.split_from_train


def test_rows_without_text_or_label_are_dropped_and_counted(tmp_path):
    rows = [("good", "a"), ("", "b"), ("fine", ""), ("bad", "b"), ("ok", "a"), ("meh", "b"), ("yes", "a")]
    ex = load_examples(write_csv(tmp_path / "d.csv", rows), validation_share=0.3)
    assert len(ex.train_texts) + len(ex.validation_texts) == 5
    assert ex.warnings == ("2 of 7 rows of d.csv have no text or no label and were left out.",)


def test_validation_file_with_unknown_label_is_refused(tmp_path, small_csv):
    val = write_csv(tmp_path / "v.csv", [("hi", "positive"), ("hmm", "neutral")])
    with pytest.raises(DataError, match="labels that the training data lacks \\('neutral'\\)"):
        load_examples(small_csv, val)


@pytest.mark.parametrize(
    "rows, fragment",
    [
        ([("a", "x"), ("b", "x"), ("c", "x"), ("d", "x"), ("e", "x")], "same label"),
        ([(f"t{i}", f"id{i}") for i in range(10)], "not a label column"),
        ([("a", "x"), ("b", "y"), ("c", "x")], "at least 5 are needed"),
        ([(" ", "x"), ("", "y")], "Every row"),
    ],
)
def test_unusable_labels_are_refused(tmp_path, rows, fragment):
    with pytest.raises(DataError, match=fragment):
        load_examples(write_csv(tmp_path / "l.csv", rows))


def test_unknown_column_names_the_columns(small_csv):
    with pytest.raises(DataError, match="has no column named 'txt'; its columns are 'text', 'label'"):
        load_examples(small_csv, text_column="txt")


def test_label_distribution(small_csv):
    assert label_distribution(read_table(small_csv), "label") == [("negative", 30), ("positive", 30)]
