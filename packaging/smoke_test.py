"""Smoke test of a built bundle: the app opens its main window offscreen, and the bundled CLI trains and predicts.

    python3 packaging/smoke_test.py [BUNDLE]

BUNDLE is the PyInstaller folder (default dist/fine-tuning-studio), a macOS `.app`, or a folder holding the
`studio` and `fine-tuning-studio` launchers as symlinks into a bundle (/usr/bin after installing the .deb).
Uses only the standard library: it tests the bundle, not a Python environment. Everything it writes goes to a
temporary folder (STUDIO_HOME); it also checks that nothing was written into the bundle. Exits 0 when every step
passed.

Steps:
  1. `studio --version` prints the version;
  2. the windowed executable starts with QT_QPA_PLATFORM=offscreen, logs that its main window is shown, and runs
     on with no error in its log while the heavy libraries load in the background; then it closes itself if it
     honours STUDIO_QUIT_AFTER_MS (and must exit 0), or the test terminates it;
  3. `studio train` fine-tunes the built-in model for a few steps on the bundled sample dataset;
  4. `studio predict` labels two texts with the model it wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
SAMPLE = "sample_sms_spam.csv"
STARTED = re.compile(r"Fine-Tuning Studio (\S+) started")
# Log lines that mean the frozen app is missing something (a module, a resource, a library).
BAD_LOG = re.compile(r" (ERROR|CRITICAL) |Traceback|not found|failed", re.IGNORECASE)


def _say(message: str) -> None:
    print(f"smoke: {message}", flush=True)


def _fail(message: str) -> None:
    print(f"smoke: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def _locate(bundle: Path) -> tuple[Path, Path, Path]:
    """(windowed executable, CLI executable, the bundle's own folder: where symlinked launchers lead)."""
    exe_dir = bundle / "Contents" / "MacOS" if bundle.suffix == ".app" else bundle
    gui, cli = exe_dir / f"fine-tuning-studio{EXE_SUFFIX}", exe_dir / f"studio{EXE_SUFFIX}"
    for exe in (gui, cli):
        if not exe.is_file():
            _fail(f"{exe} is missing")
    return gui, cli, bundle if bundle.suffix == ".app" else cli.resolve().parent


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def _run(cmd: list[str], env: dict, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    _say("$ " + " ".join(f'"{c}"' if " " in c else c for c in cmd))
    started = time.monotonic()
    try:
        done = subprocess.run(
            cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, encoding="utf-8", errors="replace"
        )
    except subprocess.TimeoutExpired:
        _fail(f"{cmd[1] if len(cmd) > 1 else cmd[0]} ran past {timeout:.0f} s")
    _say(f"  exit {done.returncode} after {time.monotonic() - started:.1f} s")
    if done.returncode != 0:
        _fail(
            f"{' '.join(cmd)} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n"
            f"--- stderr\n{done.stderr[-4000:]}"
        )
    return done


def _check_gui(
    gui: Path, env: dict, cwd: Path, log_file: Path, version: str, start_timeout: float, settle: float
) -> None:
    _say(f"$ {gui} (offscreen)")
    output = cwd / "gui-output.txt"
    # An app that honours STUDIO_QUIT_AFTER_MS closes its window by itself (a stronger check: a clean shutdown,
    # exit status 0); one that does not is terminated once it has run `settle` seconds without an error.
    env = dict(env, STUDIO_QUIT_AFTER_MS=str(int(settle * 1000)))
    started = time.monotonic()
    outcome = "terminated"
    with open(output, "w", encoding="utf-8") as sink:
        proc = subprocess.Popen([str(gui)], env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
        try:
            seen = None
            while time.monotonic() - started < start_timeout:
                if proc.poll() is not None:
                    _fail(
                        f"the app exited with status {proc.returncode} before showing its window:\n"
                        f"{output.read_text(errors='replace')[-4000:]}\n{_tail(log_file)}"
                    )
                match = STARTED.search(_read(log_file))
                if match:
                    seen = match.group(1)
                    break
                time.sleep(0.5)
            if seen is None:
                _fail(
                    f"no 'started' line in {log_file} within {start_timeout:.0f} s:\n{_tail(log_file)}\n"
                    f"{output.read_text(errors='replace')[-4000:]}"
                )
            if seen != version:
                _fail(f"the app says version {seen}, the CLI {version}")
            shown = time.monotonic()
            _say(
                f"  main window shown after {shown - started:.1f} s; watching it {settle:.0f} s while it loads "
                "the training libraries and reads the built-in model"
            )
            # A few seconds of grace past `settle` for an app that quits by itself.
            while time.monotonic() - shown < settle + 10:
                if proc.poll() is not None:
                    if proc.returncode == 0 and time.monotonic() - shown >= settle * 0.5:
                        outcome = "closed itself cleanly (STUDIO_QUIT_AFTER_MS)"
                        break
                    _fail(
                        f"the app exited with status {proc.returncode} after showing its window:\n"
                        f"{output.read_text(errors='replace')[-4000:]}\n{_tail(log_file)}"
                    )
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    bad = [line for line in _read(log_file).splitlines() if BAD_LOG.search(line)]
    if bad:
        _fail("the app's log has errors:\n" + "\n".join(bad[-20:]))
    _say(f"  ran with no error in its log; {outcome}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _tail(path: Path, lines: int = 40) -> str:
    return f"--- {path}\n" + "\n".join(_read(path).splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "bundle",
        nargs="?",
        default=str(ROOT / "dist" / "fine-tuning-studio"),
        help="bundle folder, .app, or folder of launchers (default: dist/fine-tuning-studio)",
    )
    parser.add_argument("--sample", help="training CSV (default: the sample dataset inside the bundle)")
    parser.add_argument("--skip-gui", action="store_true", help="only the CLI steps")
    parser.add_argument("--start-timeout", type=float, default=180, help="seconds for the window to show")
    parser.add_argument("--settle", type=float, default=20, help="seconds the app must then keep running")
    parser.add_argument("--train-timeout", type=float, default=900, help="seconds for `studio train`")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    bundle = Path(args.bundle).absolute()
    gui, cli, root = _locate(bundle)
    if args.sample:
        sample = Path(args.sample).resolve()
    else:
        sample = next(iter(sorted(root.rglob(SAMPLE))), None)
        if sample is None:
            _fail(f"no {SAMPLE} inside {root}; give one with --sample")
    # Nothing may be written into the bundle while it runs.
    watched = root if (root / "_internal").is_dir() or root.suffix == ".app" else None
    before = _snapshot(watched) if watched else {}

    temp = Path(tempfile.mkdtemp(prefix="studio-smoke-"))
    home, work = temp / "home", temp / "work"
    work.mkdir(parents=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "QT_PLUGIN_PATH")
    }
    env.update(
        QT_QPA_PLATFORM="offscreen",
        STUDIO_HOME=str(home),
        HF_HUB_OFFLINE="1",
        PYTHONIOENCODING="utf-8",
        PYTHONUNBUFFERED="1",
    )
    log_file = home / "logs" / "studio.log"
    _say(f"bundle {root}; STUDIO_HOME {home}")
    started = time.monotonic()

    version_line = _run([str(cli), "--version"], env, work, 120).stdout.strip()
    match = re.fullmatch(r"studio (\S+)", version_line)
    if not match:
        _fail(f"unexpected `studio --version` output: {version_line!r}")
    version = match.group(1)
    _say(f"  {version_line}")

    if not args.skip_gui:
        _check_gui(gui, env, work, log_file, version, args.start_timeout, args.settle)

    model = temp / "model"
    train = _run(
        [
            str(cli),
            "train",
            "--train",
            str(sample),
            "--epochs",
            "0.05",
            "--batch-size",
            "16",
            "--max-length",
            "64",
            "--device",
            "cpu",
            "--seed",
            "7",
            "--output",
            str(model),
        ],
        env,
        work,
        args.train_timeout,
    )
    if not re.search(r"^run: ", train.stdout, re.MULTILINE):
        _fail(f"`studio train` printed no `run:` line:\n{train.stdout[-2000:]}")
    for name in ("config.json", "model.safetensors", "metrics.json"):
        if not (model / name).is_file():
            _fail(f"`studio train` wrote no {name} into {model}")
    metrics = json.loads((model / "metrics.json").read_text(encoding="utf-8"))
    _say(f"  trained: f1 {metrics.get('f1')}, accuracy {metrics.get('accuracy')}")

    texts = ["WINNER!! You have won a free prize. Call now to claim", "See you at lunch tomorrow?"]
    predict = _run(
        [str(cli), "predict", "--model", str(model), "--device", "cpu", "--text", texts[0], "--text", texts[1]],
        env,
        work,
        300,
    )
    rows = [json.loads(line) for line in predict.stdout.splitlines() if line.strip().startswith("{")]
    if len(rows) != 2 or any(row.get("label") not in ("ham", "spam") for row in rows):
        _fail(f"unexpected `studio predict` output:\n{predict.stdout}")
    for row in rows:
        _say(f"  {row['label']} ({row['score']:.3f}): {row['text']}")

    if watched:
        after = _snapshot(watched)
        changed = sorted(name for name in after if before.get(name) != after[name])
        if changed:
            _fail("files were written inside the bundle: " + ", ".join(changed[:20]))
        _say("  nothing written inside the bundle")
    for kind in ("data", "logs"):
        if not (home / kind).is_dir():
            _fail(f"no {kind} folder under STUDIO_HOME: the bundle wrote its files elsewhere")

    if args.keep:
        _say(f"kept {temp}")
    else:
        import shutil

        shutil.rmtree(temp, ignore_errors=True)
    _say(f"PASSED in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
