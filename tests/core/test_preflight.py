"""The pre-flight check finds planted duplicates, leakage and conflicts at their rows, and nothing in clean data."""

from __future__ import annotations

import csv
import random
import threading
from pathlib import Path

import numpy as np
import pytest

from studio.core.errors import DataError
from studio.core.near_duplicates import Texts, find_links
from studio.core.preflight import check_data
from studio.core.text_scan import Cancelled, WordTable, load_token_counter
from tests.conftest import SHARED_DATA, write_csv


def random_texts(count: int, seed: int = 0, words: tuple[int, int] = (12, 40)) -> list[str]:
    """Clearly different texts: random words of random letters, each text its own length."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(3000)]
    texts = []
    for _ in range(count):
        chosen = rng.choices(vocabulary, k=rng.randint(*words))
        chosen[0] = chosen[0].capitalize()
        texts.append(" ".join(chosen) + ".")
    return texts


def as_sets(groups) -> list[frozenset[int]]:
    return [frozenset(g) for g in groups]


def grouped(groups, rows) -> bool:
    """Whether some group holds all of `rows`."""
    return any(set(rows) <= set(g) for g in groups)


def edits(text: str) -> dict[str, str]:
    """The near copies a planted duplicate can be: case, punctuation, spacing, one word changed, added, removed."""
    words = text.rstrip(".").split()
    return {
        "exact": text,
        "case": text.upper(),
        "punctuation": ", ".join(words[:3]) + " " + " ".join(words[3:]) + "!!",
        "spacing": "  ".join(text.split()) + " ",
        "changed": " ".join([*words[:5], "zzzchanged", *words[6:]]) + ".",
        "added": " ".join([*words[:4], "extraword", *words[4:]]) + ".",
        "removed": " ".join(words[:7] + words[8:]) + ".",
    }


@pytest.fixture
def planted(tmp_path):
    """300 clearly different training rows, with near copies, conflicting labels and validation leaks planted.

    Returns (train, validation, expected) where expected maps each plant to its 1-based data rows.
    """
    base = random_texts(300, seed=1)
    labels = ["alpha", "beta", "gamma"]
    train = [(t, labels[i % 3]) for i, t in enumerate(base)]
    expected: dict[str, tuple[int, ...]] = {}
    for kind, copy in edits(base[10]).items():
        if kind == "exact":
            continue
        train.append((copy, labels[10 % 3]))
        expected[kind] = (11, len(train))
    # A second source row gets several copies at once: one group of four rows.
    for copy in (base[40].lower(), base[40].replace(".", " !"), base[40]):
        train.append((copy, labels[40 % 3]))
    expected["group"] = (41, len(train) - 2, len(train) - 1, len(train))
    # Conflicts: the same text (once with changed case) with another label.
    train.append((base[70], "beta" if labels[70 % 3] != "beta" else "gamma"))
    expected["conflict"] = (71, len(train))
    train.append((base[80].upper(), "alpha" if labels[80 % 3] != "alpha" else "gamma"))
    expected["conflict_case"] = (81, len(train))
    train.append((edits(base[90])["changed"], "alpha" if labels[90 % 3] != "alpha" else "beta"))
    expected["conflict_near"] = (91, len(train))  # a word apart, another label
    validation = [(t, labels[i % 3]) for i, t in enumerate(random_texts(60, seed=2))]
    other = {"alpha": "beta", "beta": "gamma", "gamma": "alpha"}
    leaks = (
        ("leak_exact", 101, base[100], labels[100 % 3]),  # the same text and label
        ("leak_case", 121, base[120].upper(), other[labels[120 % 3]]),  # the same words, another label
        ("leak_changed", 141, edits(base[140])["changed"], labels[140 % 3]),  # one word changed
    )
    for name, train_row, text, label in leaks:
        validation.append((text, label))
        expected[name] = (train_row, len(validation))
    return (
        write_csv(tmp_path / "train.csv", train),
        write_csv(tmp_path / "validation.csv", validation),
        expected,
    )


def test_planted_duplicates_are_found_at_their_rows(planted):
    train, validation, expected = planted
    report = check_data(train, validation, use_tokenizer=False)
    duplicates = report.values["duplicates"]
    for kind in ("case", "punctuation", "spacing", "changed", "added", "removed"):
        assert grouped(duplicates, expected[kind]), f"the {kind} copy {expected[kind]} was not found: {duplicates}"
    assert grouped(duplicates, expected["group"])
    assert grouped(duplicates, expected["conflict"])  # a conflict is a duplicate text too
    # Nothing else: the base texts are all different. The near copies of row 11 form one group with it.
    planted_rows = {r for kind, rows in expected.items() if not kind.startswith("leak") for r in rows}
    assert {r for g in duplicates for r in g} <= planted_rows
    kinds = dict(zip(map(tuple, duplicates), report.values["duplicate_kinds"], strict=True))
    assert kinds[expected["conflict"]] == "exact"
    assert kinds[expected["conflict_case"]] == "same words"
    finding = report.finding("duplicates")
    assert finding is not None and finding.severity == "warning"
    assert set(finding.rows) == {r for g in duplicates for r in g}
    assert "keep one row of each group" in finding.message


def test_planted_leakage_is_found_as_train_validation_pairs(planted):
    train, validation, expected = planted
    report = check_data(train, validation, use_tokenizer=False)
    leakage = [tuple(p) for p in report.values["leakage"]]
    assert sorted(leakage) == sorted(expected[k] for k in ("leak_exact", "leak_case", "leak_changed"))
    # The validation file's own rows are all different texts.
    assert report.values["validation_duplicates"] == []
    finding = report.finding("leakage")
    assert finding is not None and finding.groups == tuple(sorted(leakage))
    assert "3 rows of the validation file" in finding.message
    # leak_case got another label than its training row; leak_exact the same (the changed one is only near).
    assert [tuple(p) for p in report.values["leakage_conflicts"]] == [expected["leak_case"]]


def test_planted_conflicts_are_found_with_their_labels(planted):
    train, _, expected = planted
    report = check_data(train, None, use_tokenizer=False)
    conflicts = [tuple(g) for g in report.values["conflicts"]]
    assert sorted(conflicts) == sorted([expected["conflict"], expected["conflict_case"], expected["conflict_near"]])
    labels = dict(zip(conflicts, report.values["conflict_labels"], strict=True))
    first, second = labels[expected["conflict"]]
    assert first != second and {first, second} <= {"alpha", "beta", "gamma"}
    finding = report.finding("conflicts")
    assert finding is not None
    assert f"{expected['conflict'][0]:,} (" in " ".join(finding.notes)
    assert (
        "3 texts appear with different labels" in finding.message and "1 of them a word or so apart" in finding.message
    )


def test_clearly_different_texts_have_no_duplicates(tmp_path):
    texts = random_texts(3000, seed=5, words=(3, 60))
    path = write_csv(tmp_path / "clean.csv", [(t, "ab"[i % 2]) for i, t in enumerate(texts)])
    report = check_data(path, use_tokenizer=False)
    assert report.values["duplicates"] == []
    assert report.values["conflicts"] == []
    assert report.finding("duplicates") is None


def test_real_news_with_planted_copies(tmp_path):
    source = SHARED_DATA / "ag_news" / "train.csv"
    if not source.is_file():
        pytest.skip(f"{source} is absent (the shared datasets are not in this checkout)")
    with open(source, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:2001]
    planted = {}
    for i, row in enumerate((150, 700, 1500)):
        text, label = rows[row - 1]
        copy = edits(text)[("case", "changed", "removed")[i]]
        rows.append([copy, label])
        planted[row] = len(rows)
    path = write_csv(tmp_path / "news.csv", [tuple(r) for r in rows])
    report = check_data(path, use_tokenizer=False)
    for row, copy in planted.items():
        assert grouped(report.values["duplicates"], (row, copy))
    # The real rows may hold real copies, but few: nothing like a group for every other row.
    assert sum(len(g) for g in report.values["duplicates"]) < 60


def test_pairs_are_compared_as_pairs(tmp_path):
    firsts = random_texts(40, seed=3)
    seconds = random_texts(40, seed=4)
    rows = [(a, b, "yes" if i % 2 else "no") for i, (a, b) in enumerate(zip(firsts, seconds, strict=True))]
    rows.append((firsts[0], seconds[1], "no"))  # the same first text, another second text: no duplicate
    rows.append((firsts[2].lower(), seconds[2], "yes"))  # the same pair: a duplicate with another label
    path = write_csv(tmp_path / "pairs.csv", rows, header=("sentence1", "sentence2", "label"))
    report = check_data(path, task="pair", pair_column="sentence2", use_tokenizer=False)
    assert report.columns.pair == "sentence2"
    assert report.values["duplicates"] == [[3, 42]]
    assert report.values["conflicts"] == [[3, 42]]


def test_pairs_a_word_apart_are_different_examples(tmp_path):
    # Entailment data: one premise, hypotheses a word apart with different labels; none is a copy of another.
    premise = "A man in a red jacket walks along the river with a can of soda in his hand ."
    hypothesis = "A {} in a red jacket walks along the river with a drink in his hand ."
    rows = [
        (premise, hypothesis.format(who), label) for who, label in (("man", "entailment"), ("woman", "contradiction"))
    ]
    rows += [(t, u, "neutral") for t, u in zip(random_texts(20, seed=13), random_texts(20, seed=14), strict=True)]
    path = write_csv(tmp_path / "nli.csv", rows, header=("premise", "hypothesis", "label"))
    report = check_data(path, task="pair", pair_column="hypothesis", use_tokenizer=False)
    assert report.values["duplicates"] == []


def test_multi_label_order_does_not_make_a_conflict(tmp_path):
    texts = random_texts(30, seed=6)
    rows = [(t, ["joy;love", "anger", "love"][i % 3]) for i, t in enumerate(texts)]
    rows.append((texts[0], "love;joy"))  # the same labels in another order
    rows.append((texts[1], "joy"))  # other labels
    path = write_csv(tmp_path / "multi.csv", rows)
    report = check_data(path, task="multi", use_tokenizer=False)
    assert report.values["duplicates"] == [[1, 31], [2, 32]]
    assert report.values["conflicts"] == [[2, 32]]


def test_token_task_conflicts_compare_the_tags(tmp_path):
    sentences = [t.rstrip(".").split() for t in random_texts(20, seed=7, words=(4, 10))]
    rows = [(" ".join(w), " ".join(["B-PER"] + ["O"] * (len(w) - 1))) for w in sentences]
    rows.append((rows[3][0], " ".join(["O"] * len(sentences[3]))))
    path = write_csv(tmp_path / "ner.csv", rows, header=("tokens", "tags"))
    report = check_data(path, task="token", use_tokenizer=False)
    assert report.values["conflicts"] == [[4, 21]]


def test_empty_one_word_and_unlabelled_rows(tmp_path):
    texts = random_texts(20, seed=8)
    rows = [(t, "ab"[i % 2]) for i, t in enumerate(texts)]
    rows[4] = ("   ", "a")
    rows[7] = ("Hello!", "b")
    rows[9] = (texts[9], " ")
    path = write_csv(tmp_path / "gaps.csv", rows)
    report = check_data(path, use_tokenizer=False)
    assert report.values["empty"] == [5]
    assert report.values["one_word"] == [8]
    assert report.values["no_label"] == [10]
    assert report.finding("empty").severity == "info"  # type: ignore[union-attr]


def test_rare_labels_and_imbalance(tmp_path):
    texts = random_texts(160, seed=9)
    labels = ["common"] * 120 + ["middle"] * 37 + ["rare"] * 3
    path = write_csv(tmp_path / "imbalanced.csv", list(zip(texts, labels, strict=True)))
    report = check_data(path, use_tokenizer=False)
    assert report.values["rare_labels"] == {"rare": [158, 159, 160]}
    assert report.values["imbalance"]["ratio"] == pytest.approx(40.0)
    assert report.values["imbalance"]["smallest"] == "rare"
    imbalance = report.finding("imbalance")
    assert imbalance is not None and imbalance.rows == (158, 159, 160)
    rare = report.finding("rare_labels")
    assert rare is not None and "'rare' (3)" in rare.message


def test_too_long_share_and_the_length_that_keeps_95_percent(tmp_path):
    texts = random_texts(200, seed=10, words=(5, 60))
    path = write_csv(tmp_path / "lengths.csv", [(t, "ab"[i % 2]) for i, t in enumerate(texts)])
    counter, note = load_token_counter(None)
    assert counter is not None, note
    report = check_data(path, max_length=32, counter=counter)
    from tokenizers import Tokenizer

    from studio.core.modeling import builtin_model_path

    tokenizer = Tokenizer.from_file(str(builtin_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    exact = np.array([len(e.ids) for e in tokenizer.encode_batch(texts)])
    assert report.values["too_long"] == [i + 1 for i in np.flatnonzero(exact > 32)]
    lengths = report.values["lengths"]
    assert lengths["keep_95"] == int(np.ceil(np.percentile(exact, 95)))
    assert lengths["share_too_long"] == pytest.approx((exact > 32).mean(), abs=1e-6)
    finding = report.finding("too_long")
    assert finding is not None and f"a max length of {lengths['keep_95']}" in finding.message
    assert "all-MiniLM-L6-v2" in finding.message


def test_token_counts_match_the_tokenizer_on_real_messages(sms_spam_csvs):
    train, _ = sms_spam_csvs
    with open(train, encoding="utf-8", newline="") as f:
        texts = [row[0] for row in list(csv.reader(f))[1:]]
    counter, _ = load_token_counter(None)
    assert counter is not None
    scanned = WordTable(counter).scan(texts)
    from tokenizers import Tokenizer

    from studio.core.modeling import builtin_model_path

    tokenizer = Tokenizer.from_file(str(builtin_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    exact = np.array([len(e.ids) for e in tokenizer.encode_batch(texts)])
    assert (scanned.tokens == exact).mean() > 0.99


def test_without_a_tokenizer_lengths_are_estimated(tmp_path):
    path = write_csv(tmp_path / "few.csv", [(t, "ab"[i % 2]) for i, t in enumerate(random_texts(20, seed=11))])
    report = check_data(path, max_length=16, use_tokenizer=False)
    assert report.values["lengths"]["counted_with"] == "estimate"
    assert "estimated from the words" in report.finding("too_long").message  # type: ignore[union-attr]


def test_a_hub_model_that_is_not_here_falls_back_to_the_estimate(tmp_path):
    counter, note = load_token_counter("some-org/not-downloaded-model")
    assert counter is None and note and "could not be read here" in note


def test_bad_input_is_a_sentence(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        check_data(tmp_path / "missing.csv", use_tokenizer=False)
    train = write_csv(tmp_path / "t.csv", [(t, "a") for t in random_texts(10)])
    other = write_csv(tmp_path / "v.csv", [("x", "a")], header=("body", "label"))
    with pytest.raises(DataError, match="needs the same columns"):
        check_data(train, other, use_tokenizer=False)
    with pytest.raises(DataError, match="no column named 'nope'"):
        check_data(train, text_column="nope", use_tokenizer=False)


def test_a_set_stop_event_cancels(tmp_path):
    path = write_csv(tmp_path / "stop.csv", [(t, "ab"[i % 2]) for i, t in enumerate(random_texts(50))])
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        check_data(path, use_tokenizer=False, stop=stop)


def test_progress_is_reported_in_percent(tmp_path):
    path = write_csv(tmp_path / "p.csv", [(t, "ab"[i % 2]) for i, t in enumerate(random_texts(50))])
    seen: list[tuple[int, int]] = []
    check_data(path, use_tokenizer=False, report=lambda done, total: seen.append((done, total)))
    assert seen and all(total == 100 for _, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] >= 80


def test_links_are_found_between_near_texts_only():
    rng = np.random.default_rng(0)
    words = rng.integers(1, 1 << 62, 40, dtype=np.uint64)
    a = words[:30]
    b = a.copy()
    b[12] = 99  # one word changed
    c = np.concatenate([a[:20], words[30:40]])  # a third of the words differ
    texts = Texts(np.concatenate([a, b, c]), np.array([0, 30, 60, 90]))
    links = find_links(texts)
    assert links.group[0] == links.group[1] != links.group[2]
    assert links.same_group[0] != links.same_group[1]


def test_rows_count_as_the_preview_numbers_them(tmp_path):
    # Blank lines are no rows (the preview skips them too); a row's number is its place among the data rows.
    texts = random_texts(6, seed=12)
    path = Path(tmp_path / "blank.csv")
    lines = [f"{t},a" if i != 2 else f"\n{t},a" for i, t in enumerate(texts)]
    path.write_text("text,label\n" + "\n".join(lines) + f"\n{texts[1]},a\n", encoding="utf-8")
    report = check_data(path, use_tokenizer=False)
    assert report.values["duplicates"] == [[2, 7]]


def test_components_match_a_graph_library():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from studio.core.near_duplicates import components

    rng = np.random.default_rng(3)
    for count, links in ((50, 30), (2000, 1500), (2000, 4000)):
        a, b = rng.integers(0, count, links), rng.integers(0, count, links)
        ours = components(count, a, b)
        graph = coo_matrix((np.ones(links), (a, b)), shape=(count, count))
        _, theirs = connected_components(graph, directed=False)
        # The same partition: two items share a label in one exactly when they do in the other.
        pairs = {(int(x), int(y)) for x, y in zip(ours, theirs, strict=True)}
        assert len(pairs) == len(set(ours.tolist())) == len(set(theirs.tolist()))


def test_scan_counts_words_per_row_with_empty_and_punctuation_rows():
    scanned = WordTable(None).scan(["Hello world foo", "HELLO world, foo!", "", " - ", "a b"])
    assert scanned.words.tolist() == [3, 3, 0, 1, 2]
    assert np.diff(scanned.texts.offsets).tolist() == [3, 3, 0, 0, 2]
    words = scanned.texts.words
    assert words[0:3].tolist() == words[3:6].tolist()  # the same words once normalised


def test_texts_of_punctuation_alone_are_compared_as_they_are(tmp_path):
    # ":-) :-)" has no word left once punctuation is removed; its copies are still copies (sms_spam has such
    # messages), while blank texts are the `empty` finding's, never one big group of duplicates.
    texts = random_texts(40, seed=11)
    rows = [(t, "ab"[i % 2]) for i, t in enumerate(texts)]
    rows[3] = (":-) :-)", "a")
    rows[5] = ("...", "b")
    rows[12] = ("   ", "a")
    rows += [(":-) :-)", "b"), (":-)  :-)", "a"), ("...", "b"), ("", "b"), ("  ", "a")]
    validation = [(t, "ab"[i % 2]) for i, t in enumerate(random_texts(10, seed=12))]
    validation.append(("...", "a"))
    report = check_data(
        write_csv(tmp_path / "train.csv", rows), write_csv(tmp_path / "val.csv", validation), use_tokenizer=False
    )
    assert report.values["duplicates"] == [[4, 41, 42], [6, 43]]
    assert report.values["duplicate_kinds"] == ["same words", "exact"]
    assert report.values["conflicts"] == [[4, 41, 42]]
    assert report.values["leakage"] == [[6, 11], [43, 11]]
    assert report.values["empty"] == [13, 44, 45]
