"""`studio check` through a subprocess: readable findings, the JSON contract's keys, exit 0 for findings, 2 for bad
input."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SHARED_DATA, write_csv
from tests.core.test_preflight import random_texts


def studio(*args, env_home, timeout=300, **extra_env):
    env = {**os.environ, "STUDIO_HOME": str(env_home), **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture
def files(tmp_path):
    texts = random_texts(100, seed=21)
    train = [(t, ("yes", "no")[i % 2]) for i, t in enumerate(texts)]
    train.append((texts[4].upper(), "no"))  # row 101: row 5 ("yes") again, with the other label
    train.append((texts[9], "no"))  # row 102: row 10 again
    train.append(("", "no"))  # row 103: empty
    validation = [(t, "yes") for t in random_texts(20, seed=22)]
    validation.append((texts[30], "yes"))  # validation row 21: training row 31
    return write_csv(tmp_path / "train.csv", train), write_csv(tmp_path / "validation.csv", validation)


def test_check_prints_findings_and_writes_the_json(files, tmp_path, studio_home):
    train, validation = files
    out = tmp_path / "check.json"
    done = studio("check", "--train", train, "--validation", validation, "--json", out, env_home=studio_home)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("checked train.csv (103 rows) and validation.csv (21 rows) as single-label classification")
    assert "warning: leakage: 1 row of the validation file validation.csv has the same" in text
    assert "warning: duplicates: 2 groups of rows hold the same text" in text
    assert "warning: conflicts: 1 text appears with different labels" in text
    assert "Training row 31, validation row 21" in text
    assert f"wrote {out}" in text
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {"duplicates", "leakage", "conflicts", "empty", "one_word", "too_long", "imbalance", "rare_labels"} <= set(
        data
    )
    assert data["duplicates"] == [[5, 101], [10, 102]]
    assert data["leakage"] == [[31, 21]]
    assert data["conflicts"] == [[5, 101]]
    assert data["conflict_labels"] == [["yes", "no"]]
    assert data["empty"] == [103]
    assert data["rows"] == {"train": 103, "validation": 21}
    assert data["lengths"]["counted_with"].startswith("all-MiniLM-L6-v2")
    assert {f["kind"] for f in data["findings"]} >= {"leakage", "duplicates", "conflicts", "empty"}
    assert "Traceback" not in done.stderr


def test_check_options_choose_the_columns_and_lengths(tmp_path, studio_home):
    texts = random_texts(40, seed=23)
    rows = [(str(i), t, ("a", "b")[i % 2]) for i, t in enumerate(texts)]
    path = write_csv(tmp_path / "cols.csv", rows, header=("id", "body", "kind"))
    out = tmp_path / "c.json"
    done = studio(
        "check",
        "--train",
        path,
        "--text-column",
        "body",
        "--label-column",
        "kind",
        "--max-length",
        16,
        "--no-tokenizer",
        "--json",
        out,
        env_home=studio_home,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["columns"] == {"text": "body", "label": "kind", "pair": None}
    assert data["lengths"]["max_length"] == 16 and data["lengths"]["counted_with"] == "estimate"
    assert data["too_long"] == list(range(1, 41))  # 12 words or more: over 16 tokens by the estimate
    assert "warning: too_long: 40 texts (100.0%) are longer than the max length of 16 tokens" in done.stdout


def test_clean_data_says_so(tmp_path, studio_home):
    path = write_csv(tmp_path / "clean.csv", [(t, "ab"[i % 2]) for i, t in enumerate(random_texts(30, seed=24))])
    done = studio("check", "--train", path, "--no-tokenizer", env_home=studio_home)
    assert done.returncode == 0, done.stderr
    assert "no findings" in done.stdout


def test_the_same_file_gives_the_same_findings_in_every_process(tmp_path, studio_home):
    # Python salts its string hashes per process; the check's word hashes must not depend on that.
    source = SHARED_DATA / "sms_spam" / "train.csv"
    if not source.is_file():
        pytest.skip(f"{source} is absent (the shared datasets are not in this checkout)")
    found = []
    for seed in ("1", "2"):
        out = tmp_path / f"check-{seed}.json"
        done = studio(
            "check", "--train", source, "--no-tokenizer", "--json", out, env_home=studio_home, PYTHONHASHSEED=seed
        )
        assert done.returncode == 0, done.stderr
        data = json.loads(out.read_text(encoding="utf-8"))
        found.append((data["duplicates"], data["duplicate_kinds"], data["conflicts"]))
    assert found[0] == found[1] and found[0][0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("check",), "error: the following arguments are required: --train"),
        (("check", "--train", "{missing}"), "does not exist"),
        (("check", "--train", "{train}", "--text-column", "nope"), "has no column named 'nope'"),
        (("check", "--train", "{train}", "--max-length", "2"), "at least 8 tokens"),
        (("check", "--train", "{train}", "--json", "{folder}"), "is a folder"),
        (("check", "--train", "{train}", "--task", "nonsense"), "There is no task 'nonsense'"),
    ],
)
def test_bad_input_is_one_error_line(args, fragment, files, tmp_path, studio_home):
    train, _ = files
    values = {"missing": tmp_path / "missing.csv", "train": train, "folder": tmp_path}
    done = studio(*(a.format(**values) for a in args), env_home=studio_home)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], done.stderr
