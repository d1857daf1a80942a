"""The engine in a child process the app starts (under torchrun for several GPUs); the app follows its events log."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

log = logging.getLogger("studio.train_process")


def main(argv: list[str] | None = None) -> int:
    """Train a saved config (--config) or resume a run (--resume); exit 0, 2 for a refusal, 1 for a bug."""
    parser = argparse.ArgumentParser(prog="python -m studio.train_process")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--config", metavar="FILE", help="a saved TrainConfig (JSON)")
    target.add_argument("--resume", metavar="FOLDER", help="a run folder to carry on")
    args = parser.parse_args(argv)

    from studio.core.logfile import setup_file_logging

    setup_file_logging()
    stop = threading.Event()
    # SIGINT is how the app says Stop (to rank 0 only; the engine shares it with the other ranks): stop after this
    # step, keeping the best checkpoint. Unlike the CLI's Ctrl-C, a second one does not abort.
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())

    from studio.cli_progress import TerminalReporter
    from studio.core.config import TrainConfig
    from studio.core.errors import OutOfMemoryError, StudioError
    from studio.core.quiet import quiet_libraries
    from studio.core.training import resume_training, run_training

    quiet_libraries()
    reporter = TerminalReporter()
    try:
        if args.resume:
            resume_training(args.resume, reporter, stop)
        else:
            run_training(TrainConfig.load(args.config), reporter, stop)
    except OutOfMemoryError as exc:
        if exc.retry_config is not None:
            print("retry: " + json.dumps(exc.retry_config.to_dict()), flush=True)
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except Exception:
        log.exception("Training in a child process failed unexpectedly")
        raise
    finally:
        reporter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
