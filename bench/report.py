"""Publish a benchmark run: results/latest.json, a Markdown table and an SVG chart."""

from __future__ import annotations

import datetime as dt
import json
from html import escape
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def write(records: list[dict[str, Any]], meta: dict[str, Any], out: Path = RESULTS) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    data = {"generated_at": stamp, "machine": meta, "results": records}
    paths = [out / "latest.json", out / "latest.md", out / "latest.svg"]
    paths[0].write_text(json.dumps(data, indent=2) + "\n")
    paths[1].write_text(markdown(records, meta, stamp))
    paths[2].write_text(chart(records))
    if out == RESULTS:
        _embed_in_docs(paths[1].read_text())
    return paths


DOC = Path(__file__).parents[1] / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _embed_in_docs(table: str) -> None:
    """Keep docs/benchmarks.md showing the published run (between its markers)."""
    if not DOC.exists():
        return
    text = DOC.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(f"{head}{START}\n{table}{END}{tail}")


def latency_text(record: dict[str, Any]) -> str:
    """A record's p50 / p99 in ms, ours then the baseline's ("" when it kept none)."""
    kept = record.get("latency_ms")
    if not kept:
        return ""
    return " · ".join(f"{p50:.2f} / {p99:.2f}" for p50, p99 in kept.values())


def markdown(records: list[dict[str, Any]], meta: dict[str, Any], stamp: str) -> str:
    lines = [
        f"Generated {stamp} by `python -m bench` on {meta.get('platform', '?')}, "
        f"{meta.get('cpus', '?')} CPUs, Python {meta.get('python', '?')}, "
        f"PostgreSQL {meta.get('postgres', '?')} (shared_buffers "
        f"{meta.get('shared_buffers', '?')}), {meta.get('durability', 'durability not recorded')}"
        f"{' (quick mode)' if meta.get('quick') else ''}.",
        "",
        "Time ratio = our median time / the baseline's median time for the same work "
        "(below 1: we are faster). Spread = (max - min) / median over the repeats. Latency: "
        "p50 / p99 of single operations in ms, ours then the baseline's, where both were kept.",
        "",
        "| table | scenario | ours/s | baseline | baseline/s | time ratio | spread | latency |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['table']} | {r['scenario']} | {r['ours_per_s']:,.0f} | {r['baseline']} | "
            f"{r['baseline_per_s']:,.0f} | {r['time_ratio']:.2f}x | "
            f"{r['spread'][0]:.0%} / {r['spread'][1]:.0%} | {latency_text(r)} |"
        )
    return "\n".join(lines) + "\n"


def chart(records: list[dict[str, Any]]) -> str:
    """Horizontal bars of time ratios on a log scale, with the 1.0 line (parity)."""
    import math

    row_h, label_w, plot_w, pad = 22, 430, 360, 10
    height = pad * 2 + row_h * len(records) + 30
    lo, hi = math.log10(0.1), math.log10(20)

    def x(ratio: float) -> float:
        value = min(max(math.log10(max(ratio, 1e-3)), lo), hi)
        return label_w + (value - lo) / (hi - lo) * plot_w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 80}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="#fff"/>',
    ]
    for tick in (0.1, 0.25, 0.5, 1, 2, 4, 10, 20):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{pad}" y2="{height - 24}" '
            f'stroke="{"#333" if tick == 1 else "#ddd"}"/>'
        )
        parts.append(
            f'<text x="{tx:.1f}" y="{height - 8}" text-anchor="middle" fill="#555">{tick}x</text>'
        )
    for i, r in enumerate(records):
        y = pad + i * row_h
        ratio = float(r["time_ratio"])
        color = "#1a9e6e" if ratio <= 1.25 else ("#c98a0b" if ratio <= 2 else "#d23f3f")
        x0, x1 = sorted((x(1.0), x(ratio)))
        label = escape(f"{r['scenario']}  vs  {r['baseline']}")[:80]
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" fill="#1d2433">{label}</text>'
        )
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{row_h - 8}" fill="{color}"/>'
        )
        parts.append(
            f'<text x="{x(ratio) + 4 if ratio >= 1 else x(1.0) + 4:.1f}" '
            f'y="{y + 15}" fill="#555">{ratio:.2f}x</text>'
        )
    parts.append("</svg>")
    return "".join(parts) + "\n"
