"""Numbers, sizes and durations as short human text for the pages (pure functions, no Qt)."""

from __future__ import annotations

import math


def count(n: float) -> str:
    """22_713_216 -> '22.7M'; 5_100 -> '5.1k'; 312 -> '312'."""
    n = float(n)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            value = n / limit
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return f"{n:.0f}"


def size(n_bytes: float) -> str:
    """Bytes as B, kB, MB or GB (powers of 1000, as file managers show them)."""
    n = float(n_bytes)
    for limit, suffix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= limit:
            return f"{n / limit:.1f} {suffix}"
    return f"{n:.0f} B"


def duration(seconds: float | None) -> str:
    """A short, rounded duration: '8 s', '2 min 05 s', '1 h 20 min'."""
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def learning_rate(value: float) -> str:
    """5e-05 -> '5e-5'; 0.0001 -> '0.0001': as short as the value allows."""
    text = f"{value:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else ""
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value * 100:.1f}%"


def metric(value: float | None) -> str:
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    return f"{value:.4f}"
