"""benchmarks/gpu_check.sh --cpu: the GPU check's path (engine, reference, figures) runs end to end on the CPU."""

import json
import os
import subprocess

import pytest

from tests.conftest import REPO, SHARED_DATA


def test_the_gpu_check_runs_its_cpu_path(tmp_path):
    if (
        not (SHARED_DATA / "ag_news" / "train.csv").is_file()
        and not (REPO / "benchmarks" / "gpu_extras" / "data" / "ag_news" / "train.csv").is_file()
    ):
        pytest.skip("ag_news is absent")
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHON": str(REPO / ".venv" / "bin" / "python")} if (REPO / ".venv").is_dir() else None
    done = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--cpu", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["cpu"] is True and result["out_of_memory"]["passed"] is None
    systems = result["systems"]
    assert set(systems) == {"engine fp32", "reference fp32"}
    for figures in systems.values():
        assert figures["samples_per_second"] > 0 and figures["peak_memory_gib"] > 0
    assert systems["reference fp32"]["x_reference"] == 1.0
    assert result["real_tokens"] > 0 and result["non_embedding_parameters"] > 0
    assert "Traceback" not in done.stderr
