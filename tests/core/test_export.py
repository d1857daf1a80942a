"""Exports are atomic: a failure leaves no half-written model, and nothing of the user's is replaced."""

import errno

import pytest

from studio.core.errors import ExportError
from studio.core.export import atomic_folder, export_folder


def _fake_model(folder):
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def test_export_folder_copies_and_replaces_an_earlier_export(tmp_path):
    src = _fake_model(tmp_path / "run-model")
    dest = tmp_path / "out"
    export_folder(src, dest)
    assert (dest / "model.safetensors").read_bytes() == b"weights"
    (src / "model.safetensors").write_bytes(b"newer")
    export_folder(src, dest)
    assert (dest / "model.safetensors").read_bytes() == b"newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "run-model"]


def test_a_failed_write_leaves_nothing_and_keeps_the_old_export(tmp_path):
    dest = _fake_model(tmp_path / "out")
    with (
        pytest.raises(ExportError, match=r"no space left on that disk.*Nothing was left half-written"),
        atomic_folder(dest) as tmp,
    ):
        (tmp / "model.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (dest / "model.safetensors").read_bytes() == b"weights"


def test_a_folder_of_other_files_is_not_replaced(tmp_path):
    src = _fake_model(tmp_path / "run-model")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("precious")
    with pytest.raises(ExportError, match="already holds other files"):
        export_folder(src, mine)
    assert (mine / "thesis.docx").read_text() == "precious"
    with pytest.raises(ExportError, match="is a file"):
        export_folder(src, mine / "thesis.docx")


def test_nothing_to_export(tmp_path):
    with pytest.raises(ExportError, match="no trained model"):
        export_folder(tmp_path, tmp_path / "x")
