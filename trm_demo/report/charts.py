"""One validated chart spec, two drawings: a Mermaid xychart block and an inline SVG.

The reports (executive and reasoning) describe each chart once with `chart(...)`;
`mermaid(spec)` draws it for the Markdown and `svg(spec)` for the HTML, on the same
axes, so both say the same thing. What the spec enforces, so every chart reads in
seconds:

- an explicit high-contrast palette (Okabe–Ito, safe for colour-blind readers): Mermaid's
  default first colour #ECECFF is nearly invisible on white;
- bars from zero (a bar's length is its value), one bar series at most (Mermaid overlays
  bars instead of grouping them), lines on top;
- at most MAX_LABELS category labels; a longer x-axis must be numeric;
- a title (the caller states the finding) and an axis title with its unit on both axes.

Mermaid's parser accepts charts that render wrong (test/mermaid/SYNTAX_NOTES.md), so values
are written as plain decimals (never `1e-05`, NaN or inf) and labels quoted with `"` turned
into `#quot;`. An x position where any series is None/NaN/inf is dropped, not clamped: a
made-up number would draw a false point.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from html import escape

from trm_demo.report.formats import finite
from trm_demo.results import downsample

# Okabe–Ito blue, vermilion, bluish green, reddish purple, black: distinct in every common
# colour-vision deficiency, all dark enough on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000")
COLOUR_NAMES = ("blue", "orange", "green", "purple", "black")
INK, GRID = "#1a1a1a", "#d0d0d0"
MAX_LABELS = 12


@dataclass(frozen=True)
class Series:
    kind: str          # "line" | "bar"
    name: str
    values: tuple


@dataclass(frozen=True)
class Chart:
    title: str                   # the finding, e.g. "Depth beyond step 2 bought nothing"
    x_title: str                 # with its unit
    y_title: str                 # with its unit
    x: tuple                     # category labels, or numbers for a numeric axis
    series: tuple                # Series, drawn in this order and coloured PALETTE[i]
    y_range: tuple               # (low, high, tick step), shared by both drawings
    numeric_x: bool

    @property
    def empty(self) -> bool:
        return not self.x


# Mermaid widens a chart for a long title (mermaid_width); past this length the widened chart's labels would shrink
# on a desktop's column too, so longer titles are refused.
MAX_TITLE = 80


def chart(title: str, x_title: str, y_title: str, x: list, series: list[tuple[str, str, list]],
          max_points: int, y_range: tuple[float, float] | None = None) -> Chart:
    """A checked chart; series are (kind, name, values), one value per x. y_range fixes the axis
    (e.g. 0-100 for percentages); otherwise it is fitted, from zero when there is a bar."""
    if not x_title or not y_title:
        raise ValueError(f"chart {title!r}: both axes need a title with a unit")
    if len(title) > MAX_TITLE:
        raise ValueError(f"chart {title!r}: {len(title)} characters; at most {MAX_TITLE}, or Mermaid clips it")
    if len(series) > len(PALETTE):
        raise ValueError(f"chart {title!r}: at most {len(PALETTE)} series, got {len(series)}")
    if sum(kind == "bar" for kind, _, _ in series) > 1:
        raise ValueError(f"chart {title!r}: at most one bar series (Mermaid overlays bars); use a table")
    for kind, name, values in series:
        if kind not in ("line", "bar"):
            raise ValueError(f"series {name!r}: kind must be 'line' or 'bar', got {kind!r}")
        if len(values) != len(x):   # Mermaid would silently pad with nulls or truncate
            raise ValueError(f"series {name!r} has {len(values)} values for {len(x)} x labels; "
                             "give one value per label")
    numeric_x = len(x) > MAX_LABELS
    if numeric_x and not all(finite(v) for v in x):
        raise ValueError(f"chart {title!r}: {len(x)} category labels; at most {MAX_LABELS}, "
                         "or give numbers for a numeric x-axis")
    keep = downsample([i for i in range(len(x)) if all(finite(v[i]) for _, _, v in series)], max_points)
    if not series:
        keep = []
    values = [[float(v[i]) for i in keep] for _, _, v in series]
    has_bar = any(kind == "bar" for kind, _, _ in series)
    low = min((v for vs in values for v in vs), default=0.0)
    high = max((v for vs in values for v in vs), default=1.0)
    return Chart(title, x_title, y_title, tuple(x[i] for i in keep),
                 tuple(Series(kind, name, tuple(vs)) for (kind, name, _), vs in zip(series, values)),
                 nice_range(*(y_range if y_range else _fit(low, high, has_bar))),
                 numeric_x)


def _fit(low: float, high: float, has_bar: bool) -> tuple[float, float]:
    """Bars from zero; lines with a 5 % margin, so a line at the lowest value is not hidden in the axis."""
    if has_bar:
        return min(low, 0.0), max(high, 0.0)
    margin = 0.05 * (high - low)
    return low - margin, high + margin


def nice_range(low: float, high: float, ticks: int = 5) -> tuple[float, float, float]:
    """An axis from a round number below `low` to one above `high`, in about `ticks` round steps."""
    if low == high:   # a flat series (a step cap that never moved) still gets a visible band
        pad = max(abs(low) * 0.1, 1.0)
        low, high = low - pad, high + pad
    raw = (high - low) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def legend(spec: Chart) -> str:
    """Not every Mermaid draws an xychart legend (a viewer may render with an older one than the tests pin), so the
    Markdown names each series by its colour."""
    return "; ".join(f"{COLOUR_NAMES[i]} {s.kind}{'s' if s.kind == 'bar' else ''}: {s.name}"
                     for i, s in enumerate(spec.series))


def no_data_note(spec: Chart) -> str:
    return f"{spec.title}: no finite values to chart in this run."


# --- Mermaid ---------------------------------------------------------------------------------

def mermaid(spec: Chart) -> str:
    """The fenced ```mermaid block, with its palette in an init directive (GitHub honours it)."""
    theme = {"xyChart": {"plotColorPalette": ", ".join(PALETTE[:len(spec.series)]), "backgroundColor": "#ffffff",
                         "titleColor": INK, "xAxisLabelColor": INK, "xAxisTitleColor": INK,
                         "xAxisLineColor": INK, "xAxisTickColor": INK, "yAxisLabelColor": INK,
                         "yAxisTitleColor": INK, "yAxisLineColor": INK, "yAxisTickColor": INK}}
    low, high, _ = spec.y_range
    x_axis = (f"{decimal(spec.x[0])} --> {decimal(spec.x[-1])}" if spec.numeric_x
              else "[" + ", ".join(quote(label) for label in spec.x) + "]")
    config = {"theme": "base", "xyChart": {"width": mermaid_width(spec.title)}, "themeVariables": theme}
    lines = ["%%{init: " + json.dumps(config) + "}%%",
             "xychart-beta horizontal" if _crowded(spec) else "xychart-beta",
             f"    title {quote(spec.title)}", f"    x-axis {quote(spec.x_title)} {x_axis}",
             f"    y-axis {quote(spec.y_title)} {decimal(low)} --> {decimal(high)}"]
    lines += [f"    {s.kind} {quote(s.name)} [{', '.join(decimal(v) for v in s.values)}]" for s in spec.series]
    return "```mermaid\n" + "\n".join(lines) + "\n```"


# Mermaid draws a chart about 700 px wide with 14 px labels: category labels wider than their band overlap there.
MERMAID_PLOT, MERMAID_FONT = 600, 14
# Its 20 px title is clipped at both ends when wider than the chart: a 78-character title was, at 700 px
# (mermaid-cli 11.17), so a long title widens the chart (the page scales it to its column) instead.
MERMAID_WIDTH, MERMAID_TITLE_PX_PER_CHAR, MERMAID_TITLE_MARGIN = 700, 10, 40


def mermaid_width(title: str) -> int:
    return max(MERMAID_WIDTH, MERMAID_TITLE_PX_PER_CHAR * len(title) + MERMAID_TITLE_MARGIN)


def _crowded(spec: Chart) -> bool:
    """True when a category label is wider than its band in Mermaid's drawing: it then lays the bars sideways,
    the labels down the left, where each has a line of its own (the SVG wraps or turns its labels instead)."""
    return not spec.numeric_x and bool(spec.x) and max(
        text_width(str(label), MERMAID_FONT) for label in spec.x) > MERMAID_PLOT / len(spec.x)


def decimal(x: float, places: int = 6) -> str:
    """A plain decimal: Mermaid rejects exponents (Python's repr(1e-05)), `1.` and NaN/inf."""
    if not finite(x):
        raise ValueError(f"cannot chart the non-finite value {x!r}; drop it before formatting")
    text = f"{float(x):.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def quote(text) -> str:
    """A quoted Mermaid label. `"` cannot be escaped inside quotes, only replaced by `#quot;`;
    an empty label and a leading `%%` (a comment) fail to parse."""
    text = " ".join(str(text).split()).replace('"', "#quot;")
    text = "% %" + text[2:] if text.startswith("%%") else text
    return f'"{text or "-"}"'


# --- SVG ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """A chart's drawing size in SVG units and its text sizes. The page scales the SVG to its column, so a label's
    size on screen is font x column width / width: the wide layout fills a desktop's 40rem column at 12 px, the
    narrow one fills a phone's (about 360 px at 390 px) at 13 px or more (html.py picks by the screen's width)."""
    name: str
    width: int
    plot_height: int
    font: int
    title_font: int
    x_ticks: int    # about this many ticks on a numeric x-axis


WIDE = Layout("wide", 640, 200, 12, 16, 6)
NARROW = Layout("narrow", 340, 200, 13, 15, 4)
CHAR = 0.6   # a sans-serif character's width in ems, generously: the text-width estimate that lays labels out
GAP = 6      # between a label and what it labels


def text_width(text: str, font: float) -> float:
    return CHAR * font * len(text)


def svg(spec: Chart, layout: Layout = WIDE) -> str:
    """The chart as an inline SVG (no script, no external font or image). The title and the legend wrap to the
    layout's width; category labels wrap to their band, or are turned upright when a word does not fit it, and the margins are measured
    from the labels, so nothing is clipped and no two labels overlap."""
    low, high, step = spec.y_range
    f, width = layout.font, layout.width
    title = _wrap(spec.title, width - 2 * GAP, layout.title_font)
    y = len(title) * 1.3 * layout.title_font + GAP   # the running top of what comes next
    legend, rows = _legend_svg(spec, layout, top=y)
    y += rows * 1.6 * f
    y_title = _wrap(spec.y_title, width - 2 * GAP, f)   # above the plot, level: an upright one outgrows the plot
    y_title_at = y + f
    top = y + len(y_title) * 1.3 * f + f
    ticks = [low + i * step for i in range(round((high - low) / step) + 1)]
    tick_labels = [_tick(t, step) for t in ticks]
    left = GAP + max(text_width(t, f) for t in tick_labels) + GAP
    right = f   # room for the last x label's half-width past the plot
    plot_w, plot_h = width - left - right, layout.plot_height
    x_labels = _x_ticks(spec, layout.x_ticks)
    slot = plot_w / max(len(x_labels), 1) - GAP
    # A label wraps at its words to fit its slot; one with a word wider than the slot is turned upright.
    upright = any(text_width(word, f) > slot for _, label in x_labels for word in str(label).split())
    lines = {v: [str(label)] if upright else _wrap(str(label), slot, f) for v, label in x_labels}
    label_h = (max((text_width(str(label), f) for _, label in x_labels), default=0.0) if upright
               else max(map(len, lines.values()), default=1) * 1.3 * f)
    x_title = _wrap(spec.x_title, width - 2 * GAP, f)
    base = top + plot_h + GAP
    x_title_at = base + label_h + GAP + f
    height = x_title_at + (len(x_title) - 1) * 1.3 * f + GAP
    x_at = _x_positions(spec, left, plot_w)

    def y_at(value: float) -> float:
        return top + plot_h * (high - value) / (high - low)

    parts = [f'<text x="{width / 2}" y="{(i + 1) * 1.3 * layout.title_font:.1f}" text-anchor="middle" '
             f'font-size="{layout.title_font}" font-weight="bold">{escape(line)}</text>' for i, line in enumerate(title)]
    parts.append('<g class="legend">' + "".join(legend) + "</g>")
    parts += [f'<text x="{GAP}" y="{y_title_at + i * 1.3 * f:.1f}">{escape(line)}</text>' for i, line in enumerate(y_title)]
    for tick, label in zip(ticks, tick_labels):
        at = y_at(tick)
        parts.append(f'<line x1="{left:.1f}" x2="{left + plot_w:.1f}" y1="{at:.1f}" y2="{at:.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - GAP:.1f}" y="{at + f / 3:.1f}" text-anchor="end">{escape(label)}</text>')
    for value, label in x_labels:
        x = x_at(value)
        if upright:
            parts.append(f'<text transform="translate({x + f / 3:.1f} {base:.1f}) rotate(-90)" text-anchor="end">'
                         f'{escape(str(label))}</text>')
        else:
            parts += [f'<text x="{x:.1f}" y="{base + f + i * 1.3 * f:.1f}" text-anchor="middle">{escape(line)}</text>'
                      for i, line in enumerate(lines[value])]
    parts += [f'<text x="{left + plot_w / 2:.1f}" y="{x_title_at + i * 1.3 * f:.1f}" text-anchor="middle">'
              f'{escape(line)}</text>' for i, line in enumerate(x_title)]
    zero = y_at(min(max(0.0, low), high))
    band = plot_w / max(len(spec.x), 1)
    for colour, series in zip(PALETTE, spec.series):
        points = [(x_at(i if not spec.numeric_x else x), y_at(v)) for i, (x, v) in enumerate(zip(spec.x, series.values))]
        if series.kind == "bar":
            parts += [f'<rect x="{x - band * 0.35:.1f}" y="{min(y, zero):.1f}" width="{band * 0.7:.1f}" '
                      f'height="{abs(zero - y):.1f}" fill="{colour}"><title>{escape(series.name)}: {v:g}</title></rect>'
                      for (x, y), v in zip(points, series.values)]
        else:
            path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f} {y:.1f}" for i, (x, y) in enumerate(points))
            parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
            if len(points) <= MAX_LABELS:   # a short line shows its data points (one point draws no line)
                parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>' for x, y in points]
    parts.append(f'<line x1="{left:.1f}" x2="{left + plot_w:.1f}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="{INK}"/>'
                 f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{top:.1f}" y2="{top + plot_h:.1f}" stroke="{INK}"/>')
    return (f'<svg class="chart {layout.name}" viewBox="0 0 {width} {height:.0f}" role="img" '
            f'aria-label="{escape(spec.title)}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" '
            f'font-size="{f}" fill="{INK}">' + "".join(parts) + "</svg>")


def _wrap(text: str, width: float, font: float) -> list[str]:
    """Lines of whole words that fit `width` at `font`."""
    lines = []
    for word in text.split():
        if lines and text_width(lines[-1] + " " + word, font) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _x_positions(spec: Chart, left: float, plot_w: float):
    """Categories sit in the middle of equal bands; a numeric axis maps its range to the plot."""
    if not spec.numeric_x:
        band = plot_w / max(len(spec.x), 1)
        return lambda i: left + band * (i + 0.5)
    first, last = spec.x[0], spec.x[-1]
    return lambda value: left + plot_w * ((value - first) / (last - first) if last != first else 0.5)


def _x_ticks(spec: Chart, ticks: int) -> list[tuple]:
    if not spec.numeric_x:
        return list(enumerate(spec.x))
    low, high, step = nice_range(spec.x[0], spec.x[-1], ticks=ticks)
    values = [low + i * step for i in range(round((high - low) / step) + 1)]
    return [(t, _tick(t, step)) for t in values if spec.x[0] <= t <= spec.x[-1]]


def _tick(value: float, step: float) -> str:
    places = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:,.{places}f}"


def _legend_svg(spec: Chart, layout: Layout, top: float) -> tuple[list[str], int]:
    """Swatches under the title, each series in its own colour and mark, wrapped into rows that fit the width;
    with the number of rows."""
    f = layout.font
    parts, x, row = [], GAP, 0
    for colour, series in zip(PALETTE, spec.series):
        item = 14 + GAP + text_width(series.name, f)
        if x > GAP and x + item > layout.width - GAP:
            x, row = GAP, row + 1
        y = top + row * 1.6 * f
        mark = (f'<rect x="{x:.1f}" y="{y:.1f}" width="14" height="10" fill="{colour}"/>' if series.kind == "bar" else
                f'<line x1="{x:.1f}" x2="{x + 14:.1f}" y1="{y + 5:.1f}" y2="{y + 5:.1f}" stroke="{colour}" '
                f'stroke-width="3"/>')
        parts.append(mark + f'<text x="{x + 14 + GAP:.1f}" y="{y + 10:.1f}">{escape(series.name)}</text>')
        x += item + 3 * GAP
    return parts, row + (1 if spec.series else 0)
