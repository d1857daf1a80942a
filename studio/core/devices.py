"""Pick the device (CUDA, Apple MPS, CPU) and the precision it trains best in."""

from __future__ import annotations

from studio.core.errors import ConfigError


def available_devices() -> list[str]:
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def choose_device(requested: str = "auto") -> str:
    found = available_devices()
    if requested == "auto":
        return found[0]
    if requested not in found:
        raise ConfigError(
            f"No {requested.upper()} device is available on this machine (found: {', '.join(found)}); "
            "choose auto or cpu."
        )
    return requested


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 instructions (AVX512-BF16 or AMX), where bf16 autocast is about 1.6x faster."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch without these probes: stay with fp32
        return False


def choose_precision(device: str, requested: str = "auto") -> str:
    """bf16 autocast where the hardware has it (else fp16 on CUDA); fp32 elsewhere and on MPS."""
    import torch

    if requested == "auto":
        if device == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        # Emulated bf16 (AVX512 without BF16) is slower than fp32: only use it where it is native.
        if device == "cpu" and cpu_has_native_bf16():
            return "bf16"
        return "fp32"
    if requested == "fp16" and device != "cuda":
        raise ConfigError("fp16 training needs a CUDA GPU; choose fp32 or auto.")
    if requested == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("This GPU does not support bf16; choose fp16 or auto.")
    return requested


def supports_tf32(device: str) -> bool:
    import torch

    return device == "cuda" and torch.cuda.get_device_capability()[0] >= 8


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS out-of-memory errors (typed in recent torch, a RuntimeError message before)."""
    return type(exc).__name__ == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def release_accelerator_memory() -> None:
    """Give cached GPU memory back after a failure, so that the app can train again."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        mps.empty_cache()
