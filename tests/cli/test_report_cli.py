"""`studio report` and `studio runs --compare` through a subprocess: the files and tables they print, and errors."""

import re

from tests.cli.test_check_cli import studio
from tests.run_pairs import RATES, copy_runs


def test_runs_compare_prints_the_table_with_the_learning_rate_marked(tiny_model_dir, tmp_path, studio_home):
    slow, fast = copy_runs(tmp_path, tiny_model_dir)
    done = studio("runs", "--compare", slow, fast, env_home=studio_home)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Final figures (best marked <)"
    assert slow.name in lines[1] and fast.name in lines[1]
    assert any(line.startswith("Macro F1") for line in lines)
    rate = next(line for line in lines if "learning_rate" in line)
    assert rate.startswith("* learning_rate") and rate.split()[-2:] == [f"{RATES[0]:g}", f"{RATES[1]:g}"]
    assert any(line.startswith("  epochs ") for line in lines)
    short = studio("runs", "--compare", slow, fast, "--differences-only", env_home=studio_home)
    assert "  epochs " not in short.stdout and "* learning_rate" in short.stdout


def test_runs_compare_refuses_one_run_and_a_folder_that_is_no_run(tmp_path, studio_home):
    done = studio("runs", "--compare", tmp_path, env_home=studio_home)
    assert done.returncode == 2 and done.stderr == "error: Choose two or more runs to compare.\n"
    done = studio("runs", "--compare", tmp_path, tmp_path / "x", env_home=studio_home)
    assert done.returncode == 2 and "is not a training run folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_report_writes_a_self_contained_html_file(tiny_model_dir, tmp_path, studio_home):
    run = copy_runs(tmp_path, tiny_model_dir)[0]
    out = tmp_path / "report.html"
    done = studio("report", "--run", run, "--output", out, "--no-mislabels", env_home=studio_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote the report to {out}\n"
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and not re.search(r"https?://", page)
    assert "Pre-flight findings" in page


def test_report_on_a_folder_that_is_no_run_is_a_sentence(tmp_path, studio_home):
    done = studio("report", "--run", tmp_path, "--output", tmp_path / "r.html", env_home=studio_home)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "not a training run folder" in done.stderr
    assert not (tmp_path / "r.html").exists()
    done = studio("report", "--help", env_home=studio_home)
    assert "--output FILE.html" in done.stdout
