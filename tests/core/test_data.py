"""Column inference, label maps, dropped rows and the stratified validation split."""

from collections import Counter

import pytest

from studio.core.csvio import read_table
from studio.core.data import infer_columns, label_distribution, label_order, load_examples
from studio.core.errors import DataError
from studio.core.tasks.base import Columns
from tests.conftest import write_csv


def test_columns_inferred_by_name_and_by_shape(tmp_path):
    named = write_csv(tmp_path / "a.csv", [("1", "hello there", "pos")] * 3, header=("id", "review", "sentiment"))
    assert infer_columns(read_table(named)) == Columns(text="review", label="sentiment")
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


def test_the_automatic_split_is_capped_and_says_so(tmp_path):
    rows = [(f"text number {i}", ("a", "b", "c")[i % 3]) for i in range(300)]
    path = write_csv(tmp_path / "many.csv", rows)
    capped = load_examples(path, validation_share=0.1, max_validation_rows=12)
    assert len(capped.validation_texts) == 12 and len(capped.train_texts) == 288
    assert Counter(capped.validation_labels) == {0: 4, 1: 4, 2: 4}  # still stratified
    assert capped.warnings == (
        "Validation holds 12 rows of many.csv, not 10% (30): a larger held-out part would be evaluated at every "
        "evaluation for little gain. Give a validation file to validate on more rows.",
    )
    # Below the cap the share applies as before, and nothing is said.
    uncapped = load_examples(path, validation_share=0.1, max_validation_rows=30)
    assert len(uncapped.validation_texts) == 30 and uncapped.warnings == ()


def test_the_default_cap_holds_5000_rows_of_a_60000_row_file(tmp_path):
    rows = [(f"row {i} of a large file", ("ham", "spam")[i % 2]) for i in range(60_000)]
    examples = load_examples(write_csv(tmp_path / "large.csv", rows))
    assert len(examples.validation_texts) == 5_000 and len(examples.train_texts) == 55_000
    assert "not 10% (6,000)" in examples.warnings[0]
    # A validation file is taken whole: the cap is only for the automatic split.
    validation = write_csv(tmp_path / "v.csv", rows[:6_000])
    assert len(load_examples(tmp_path / "large.csv", validation).validation_texts) == 6_000
