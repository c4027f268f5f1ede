"""Chart geometry for server-rendered SVG: pure functions from numbers to rectangles and labels.

Templates draw what these return; each chart also carries its numbers as table rows, for screen readers and for
anyone who wants the figures rather than the shapes.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 60, 8, 12, 24


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    css: str
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class ColumnChart:
    title: str
    rects: list[Rect]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    legend: list[tuple[str, str]]
    """(css class, name) per series."""
    table_head: list[str]
    table_rows: list[list[str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    baseline: float = HEIGHT - BOTTOM


@dataclass(frozen=True)
class Bar:
    label: str
    value: str
    percent: float
    """Share of the longest bar, 0-100."""
    href: str | None = None


def columns(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    fmt: Callable[[float], str],
    *,
    short: Callable[[str], str] = lambda label: label,
    whole: bool = False,
) -> ColumnChart:
    """Stacked columns, one per label; `series` maps a name to one value per label (one series: plain columns).
    `whole`: the values are counts, so the axis is marked at whole numbers only."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    rects: list[Rect] = []
    for i, label in enumerate(labels):
        y = HEIGHT - BOTTOM
        for name, values in series.items():
            h = values[i] / top * plot_h
            if values[i] > 0:
                y -= h
                title = f"{label}: {fmt(values[i])}" + (f" {name}" if len(series) > 1 else "")
                rects.append(Rect(LEFT + i * slot + slot * 0.125, y, slot * 0.75, h, f"series-{name}", title))
    every = max(1, len(labels) // 6)
    x_ticks = [Tick(LEFT + (i + 0.5) * slot, HEIGHT - 6, short(lb)) for i, lb in enumerate(labels) if i % every == 0]
    marks = sorted({0, int(top // 2), int(top)}) if whole else [0.0, top / 2, top]
    y_ticks = [Tick(LEFT - 6, TOP + plot_h * (1 - v / top), fmt(v)) for v in marks]
    head = ["", *series] if len(series) > 1 else ["", title]
    rows = [[label, *(fmt(values[i]) for values in series.values())] for i, label in enumerate(labels)]
    return ColumnChart(title, rects, x_ticks, y_ticks, [(f"series-{n}", n) for n in series], head, rows)


def bars(items: Sequence[tuple[str, float, str | None]], fmt: Callable[[float], str]) -> list[Bar]:
    """Horizontal bars, longest first as given: (label, value, link)."""
    top = max((value for _, value, _ in items), default=0) or 1
    return [Bar(label, fmt(value), round(value / top * 100, 1), href) for label, value, href in items]
