"""Small server-rendered SVG charts: the console draws pictures without a JS library."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD_L, PAD_B, PAD_T, PAD_R = 560, 200, 44, 28, 12, 12
LEGEND_H = 18  # room above a stacked chart's plot for its legend


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    unit: str = "",
    color: str = "#4f6bed",
    title: str = "",
) -> str:
    """Vertical bars, one per label, with the y axis scaled to the largest value."""
    if not values:
        return _empty(title)
    top = max(max(values), 1e-9)
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    step = plot_w / len(values)
    bar_w = max(step * 0.7, 1.0)
    parts = [_frame(title), *_y_axis(top, unit)]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / top
        x = PAD_L + i * step + (step - bar_w) / 2
        y = PAD_T + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" rx="2" '
            f'fill="{color}"><title>{escape(label)}: {escape(_shown(value, unit))}</title></rect>'
        )
        if len(values) <= 16 or i % max(1, len(values) // 8) == 0:
            parts.append(_x_label(PAD_L + i * step + step / 2, label))
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    unit: str = "",
    title: str = "",
) -> str:
    """One bar per label, stacked from the series given as (name, colour, values), with a
    legend; the y axis is scaled to the tallest stack."""
    totals = [sum(values[i] for _, _, values in series) for i in range(len(labels))]
    if not labels or not any(totals):
        return _empty(title)
    top = max(totals)
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B - LEGEND_H
    step = plot_w / len(labels)
    bar_w = max(min(step * 0.7, 64.0), 1.0)
    parts = [_frame(title), *_y_axis(top, unit, top_y=PAD_T + LEGEND_H)]
    for i, label in enumerate(labels):
        x = PAD_L + i * step + (step - bar_w) / 2
        base = float(PAD_T + LEGEND_H + plot_h)
        for name, color, values in series:
            h = plot_h * values[i] / top
            if h <= 0:
                continue
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{color}" data-series="{escape(name)}"><title>{escape(label)} · '
                f"{escape(name)}: {escape(_shown(values[i], unit))}</title></rect>"
            )
        if len(labels) <= 16 or i % max(1, len(labels) // 8) == 0:
            parts.append(_x_label(PAD_L + i * step + step / 2, label))
    legend_x = float(PAD_L)
    for name, color, _ in series:
        parts.append(
            f'<rect x="{legend_x:.1f}" y="{PAD_T - 2}" width="10" height="10" rx="2" '
            f'fill="{color}"/><text x="{legend_x + 14:.1f}" y="{PAD_T + 7}" class="axis">'
            f"{escape(name)}</text>"
        )
        legend_x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    unit: str = "",
    top: float | None = None,
    color: str = "#1a9e6e",
    title: str = "",
) -> str:
    """A line through the points that have a value (gaps are skipped)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return _empty(title)
    top = top if top is not None else max(max(v for _, v in points), 1e-9)
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    step = plot_w / max(len(values) - 1, 1)
    coords = [(PAD_L + i * step, PAD_T + plot_h - plot_h * v / top) for i, v in points]
    path = " ".join(f"{'M' if n == 0 else 'L'}{x:.1f},{y:.1f}" for n, (x, y) in enumerate(coords))
    parts = [
        _frame(title),
        *_y_axis(top, unit),
        f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>',
    ]
    for (i, v), (x, y) in zip(points, coords, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}">'
            f"<title>{escape(labels[i])}: {escape(_shown(v, unit))}</title></circle>"
        )
    for i, label in enumerate(labels):
        if len(labels) <= 16 or i % max(1, len(labels) // 8) == 0:
            parts.append(_x_label(PAD_L + i * step, label))
    parts.append("</svg>")
    return "".join(parts)


def _frame(title: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    )


def _shown(value: float, unit: str) -> str:
    """A point's value as its tooltip says it: a fraction as a percentage, a whole or large
    number without decimals, a small one with two."""
    if unit == "%":
        return f"{value:.0%}"
    if abs(value) >= 100 or value == round(value):
        return f"{value:,.0f}{unit}"
    return f"{value:,.2f}{unit}"


def _y_axis(top: float, unit: str, *, top_y: float = PAD_T) -> list[str]:
    plot_h = HEIGHT - top_y - PAD_B
    out = []
    for frac in (0, 0.5, 1):
        y = top_y + plot_h * (1 - frac)
        out.append(
            f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ee"/>'
        )
        value = top * frac
        if unit == "%":
            text = f"{value:.0%}"
        elif value >= 100 or value == round(value):
            text = f"{value:,.0f}{unit}"
        else:  # a small scale: whole numbers would repeat or mislabel the gridlines
            text = f"{value:,.1f}{unit}"
        out.append(
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'class="axis">{escape(text)}</text>'
        )
    return out


def _x_label(x: float, label: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="axis">'
        f"{escape(label)}</text>"
    )


def _empty(title: str) -> str:
    return (
        f'{_frame(title)}<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
        'class="empty">No data yet</text></svg>'
    )
