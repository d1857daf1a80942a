"""The first window appears before torch, transformers, datasets or scikit-learn are imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from PySide6.QtCore import QSettings

from tests.ui.conftest import find, launch_app, wait_for_data

HEAVY = ("torch", "transformers", "datasets", "sklearn", "accelerate", "safetensors")


def test_the_first_window_paints_without_the_heavy_libraries(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from PySide6.QtWidgets import QApplication
        from studio.ui.app import create_application
        from studio.ui.main_window import MainWindow
        app = create_application([])
        window = MainWindow()
        window.show()
        app.processEvents()
        assert not window.grab().isNull()
        print(",".join(m for m in {HEAVY!r} if m in sys.modules))
        window.close()
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported before the first window: {out.stdout}"


def test_a_new_user_finds_the_sample_data_ready(qtbot, window):
    wait_for_data(qtbot, window)
    loaded = window.data_page.loaded()
    assert loaded.table.path.name == "sample_sms_spam.csv"
    assert find(window, "textColumn").currentText() == "text"
    assert find(window, "labelColumn").currentText() == "label"
    assert loaded.distribution and {name for name, _ in loaded.distribution} == {"ham", "spam"}
    assert window.data_page.model.rowCount() == 800
    assert find(window, "modelSource").currentText() == "all-MiniLM-L6-v2 (built-in)"


def test_window_geometry_and_settings_come_back(qtbot, studio_home, monkeypatch):
    from studio.ui.main_window import MainWindow

    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(1111, 777)
    first.show_page("Train")
    find(first, "seed").setValue(7)
    first.close()
    assert QSettings(str(studio_home / "config" / "window.ini"), QSettings.Format.IniFormat).contains("geometry")

    saved = bytes(first.saveGeometry())
    # The offscreen screen is 800x600, smaller than the window may be, so Qt would clamp the size it restores:
    # check that the saved geometry is what the new window asks for.
    restored = []
    monkeypatch.setattr(MainWindow, "restoreGeometry", lambda self, data: restored.append(bytes(data)) or True)
    second = MainWindow()
    qtbot.addWidget(second)
    assert restored == [saved]
    assert second.stack.currentWidget() is second.train_page
    assert find(second, "seed").value() == 7


def test_the_app_started_like_a_user_does_closes_cleanly(tmp_path):
    # `studio` with no arguments, as the launchers run it; STUDIO_QUIT_AFTER_MS closes the window, as the bundle's
    # smoke test does, after the deferred pages have been built and the libraries preloaded in the background.
    # With a settings file the first version broke on: it is repaired, and the log file says what was.
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text('{"hyperparameters": {"learning_rate": "fast"}}')
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": str(tmp_path), "STUDIO_QUIT_AFTER_MS": "3000"}
    out = launch_app(env)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    logs = "".join(path.read_text(encoding="utf-8") for path in tmp_path.rglob("*.log"))
    assert "Fine-Tuning Studio" in logs and " started" in logs
    assert " ERROR " not in logs, logs
    assert logs.count(" started") == 1 and "hyperparameter learning_rate was 'fast'" in logs
    assert '"learning_rate": null' in (tmp_path / "config" / "settings.json").read_text()  # left to the task


def test_a_native_crash_in_the_app_leaves_its_stack_in_the_crash_log(tmp_path):
    # A segfault (as a bug in Qt or torch would cause) once the window is up: Python's excepthook never runs, but
    # faulthandler writes every thread's stack beside the log file.
    code = textwrap.dedent("""
        import faulthandler, sys
        from PySide6.QtCore import QTimer
        from studio.ui import main_window

        shown = main_window.MainWindow.show
        def show_then_crash(self):
            shown(self)
            QTimer.singleShot(300, faulthandler._sigsegv)
        main_window.MainWindow.show = show_then_crash
        from studio.launcher import main
        sys.exit(main([]))
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": str(tmp_path)}
    env.pop("PYTHONFAULTHANDLER", None)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert out.returncode != 0
    crash = (tmp_path / "logs" / "crash.log").read_text(encoding="utf-8")
    assert "Fatal Python error: Segmentation fault" in crash
    assert "in run_app" in crash and "in show_then_crash" not in crash  # the stack of the timer's call, from exec()
