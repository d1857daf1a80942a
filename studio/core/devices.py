"""Pick the device (CUDA, Apple MPS, CPU) and the precision it trains best in."""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.errors import ConfigError
from studio.core.launch import IN_PROCESS, Launch


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


@dataclass(frozen=True)
class DeviceOption:
    """One entry of the Train page's device choice: what it is called, and how a run on it is launched."""

    key: str  # "auto", "cpu", "mps", "cuda:N" or "all-gpus": the choice, as the page remembers it
    label: str
    device: str  # TrainConfig.device
    launch: Launch = IN_PROCESS
    # What auto precision gives on it, and why, e.g. ("bf16", "this CPU has native bf16").
    auto_precision: str = "fp32"
    precision_reason: str = ""
    precisions: tuple[str, ...] = ("fp32",)  # those it can train in
    place: str = ""  # where it trains, when the label does not say it alone (auto's choice)

    @property
    def where(self) -> str:
        return self.place or self.label


def list_devices() -> list[DeviceOption]:
    """auto (naming its choice) first, then each CUDA GPU by name, all GPUs when there are several, MPS and CPU.

    Imports torch and wakes the GPUs: call it in the background.
    """
    import torch

    options = []
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    cuda = _precision_option("cuda") if gpus else None
    for index in range(gpus):
        assert cuda is not None
        name = torch.cuda.get_device_name(index)
        # In this process the Trainer takes the first visible GPU (and all of them, with DataParallel): another
        # one, or one of several, trains in a child process that sees only it.
        launch = IN_PROCESS if gpus == 1 else Launch(processes=1, visible_devices=str(index))
        options.append(DeviceOption(f"cuda:{index}", f"GPU {index}: {name}", "cuda", launch, *cuda))
    if gpus > 1:
        assert cuda is not None
        options.append(DeviceOption("all-gpus", f"all GPUs ({gpus})", "cuda", Launch(processes=gpus), *cuda))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        options.append(DeviceOption("mps", "Apple GPU (MPS)", "mps", IN_PROCESS, *_precision_option("mps")))
    options.append(DeviceOption("cpu", "CPU", "cpu", IN_PROCESS, *_precision_option("cpu")))
    # choose_device's order: the first GPU (in this process, as the Trainer picks it), else MPS, else the CPU.
    auto = options[0]
    auto_name = "CPU" if auto.device == "cpu" else auto.label
    # Short enough for the combo box; the line under it on the Train page gives the reason.
    summary = f"auto: {auto_name}, {auto.auto_precision}"
    options.insert(
        0,
        DeviceOption(
            "auto",
            summary,
            "auto",
            IN_PROCESS,
            auto.auto_precision,
            auto.precision_reason,
            auto.precisions,
            place=auto_name,
        ),
    )
    return options


def _precision_option(device: str) -> tuple[str, str, tuple[str, ...]]:
    """auto's precision on a device, the reason for it, and every precision the device can train in."""
    import torch

    if device == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "this GPU supports bf16", ("bf16", "fp16", "fp32")
        return "fp16", "this GPU has no bf16", ("fp16", "fp32")
    if device == "cpu":
        if cpu_has_native_bf16():
            return "bf16", "this CPU has native bf16", ("bf16", "fp32")
        # bf16 still works on such a CPU, only slower than fp32.
        return "fp32", "this CPU has no native bf16", ("fp32", "bf16")
    return "fp32", "mixed precision on MPS is not supported by the trainer here", ("fp32",)


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
