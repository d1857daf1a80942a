"""Line charts as inline SVG for the HTML report: axes, ticks, a legend; no plotting library needed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Okabe-Ito: colours that stay apart for colour-blind readers (the app's plots use them too).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#7f7f7f", "#F0E442")
WIDTH, HEIGHT = 560, 296
LEFT, RIGHT, TOP, BOTTOM = 62, 16, 50, 44
LEGEND_Y = 38


@dataclass(frozen=True)
class Series:
    name: str
    x: Sequence[float]
    y: Sequence[float]
    colour: str | None = None
    dashed: bool = False
    markers: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering low..high."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        # One value (a single evaluation): centred, so that its point is not drawn on the axis.
        pad = (abs(low) or 1.0) * 0.05
        low, high = (low - pad if low - pad >= 0 or low < 0 else 0.0), high + pad
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks: list[float] = []
    value = first
    # Up to the first tick at or past `high`, so that every point lies inside the axes.
    while len(ticks) < 50:
        ticks.append(round(value, 12))
        if value >= high - step * 1e-9:
            break
        value += step
    return ticks


def _tick_text(value: float, step: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 10000 or abs(value) < 1e-3:
        return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 2
    return f"{value:,.{min(decimals, 6)}f}"


def line_chart(series: Sequence[Series], title: str, y_label: str, x_label: str = "step") -> str:
    """An <svg> element drawing each series as a line; a chart with no points says so."""
    shown = [s for s in series if len(s.x) and len(s.x) == len(s.y)]
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if not shown:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#777">No points were logged.</text>'
        )
        return "".join(parts) + "</svg>"
    xs = [float(v) for s in shown for v in s.x]
    ys = [float(v) for s in shown for v in s.y if math.isfinite(float(v))] or [0.0]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(min(ys), max(ys))
    x0, x1 = x_ticks[0], x_ticks[-1]
    y0, y1 = y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return LEFT + (x - x0) / ((x1 - x0) or 1) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1
    for t in y_ticks:
        y = py(t)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e6e6e6"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{_tick_text(t, y_step)}</text>'
        )
    for t in x_ticks:
        x = px(t)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#f0f0f0"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" fill="#444">{_tick_text(t, x_step)}</text>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999" stroke-width="1"/>'
    )
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle" fill="#333">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text transform="translate(14 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle" fill="#333">'
        f"{escape(y_label)}</text>"
    )
    for i, s in enumerate(shown):
        colour = s.colour or COLOURS[i % len(COLOURS)]
        points = " ".join(
            f"{px(float(x)):.1f},{py(float(y)):.1f}" for x, y in zip(s.x, s.y, strict=False) if math.isfinite(float(y))
        )
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        parts.append(
            f'<polyline class="series" data-name="{escape(s.name)}" points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="1.8"{dash}/>'
        )
        if s.markers or len(s.x) == 1:
            for point in points.split():
                cx, cy = point.split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.6" fill="{colour}"/>')
    # The legend in a row between the title and the plot, so that it never hides a line.
    x = float(LEFT)
    for i, s in enumerate(shown):
        colour = s.colour or COLOURS[i % len(COLOURS)]
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        parts.append(
            f'<line x1="{x:.1f}" y1="{LEGEND_Y - 4}" x2="{x + 18:.1f}" y2="{LEGEND_Y - 4}" stroke="{colour}" '
            f'stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{x + 22:.1f}" y="{LEGEND_Y}" fill="#222">{escape(s.name)}</text>')
        x += 40 + 6.2 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)
