"""Silence the libraries' own progress bars and load reports; the studio reports progress itself."""

from __future__ import annotations

import os
import warnings


def quiet_libraries() -> None:
    """Called by the CLI and the app before training: one progress display, ours."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import huggingface_hub
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    huggingface_hub.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", module=r"transformers\..*")
    warnings.filterwarnings("ignore", module=r"torch\.utils\.data\..*")
