"""Transfers per day per recipient as an inline SVG bar chart (server-rendered: no script, no CDN).

The chart is decorative for screen readers (role="img" with a summary); the same figures are
in a data table next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from hub.audit.queries import DayCount

# Colour-blind safe palette (Okabe-Ito), each at least 3:1 against white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    days: tuple[tuple[float, str], ...]  # x of each day label
    legend: tuple[tuple[str, str], ...]  # (recipient, colour)
    max_count: int
    summary: str


def day_chart(counts: Sequence[DayCount], today: date, days: int = 14) -> Chart:
    width, height, left, bottom, top = 720, 260, 40, 30, 10
    first = today - timedelta(days=days - 1)
    recipients = sorted({c.recipient for c in counts})
    colour = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(recipients)}
    per_day: dict[date, list[DayCount]] = {}
    for c in counts:
        per_day.setdefault(c.day, []).append(c)
    totals = {d: sum(c.count for c in cs) for d, cs in per_day.items()}
    peak = max(totals.values(), default=0)
    slot = (width - left) / days
    scale = (height - bottom - top) / peak if peak else 0
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    for i in range(days):
        d = first + timedelta(days=i)
        x = left + i * slot
        labels.append((x + slot / 2, d.strftime("%d %b")))
        y = float(height - bottom)
        for c in sorted(per_day.get(d, []), key=lambda c: c.recipient):
            h = c.count * scale
            y -= h
            bars.append(
                Bar(x + 2, y, slot - 4, h, colour[c.recipient], f"{d}: {c.recipient} {c.count}")
            )
    total = sum(totals.values())
    summary = (
        f"{total} transfers delivered over the last {days} days to {len(recipients)} services; "
        f"busiest day {peak}."
    )
    return Chart(width, height, tuple(bars), tuple(labels), tuple(colour.items()), peak, summary)
