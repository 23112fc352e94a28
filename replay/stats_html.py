"""The statistics as one self-contained HTML page: a table and a chart (SVG) per section.

Charts are drawn with matplotlib from the same cells as the tables — suppressed cells are
left out of the charts as of the tables — and embedded as SVG, so the page needs nothing
from outside and prints sharply.
"""

from __future__ import annotations

import io
from collections import defaultdict
from functools import cache
from html import escape
from typing import TYPE_CHECKING, Any

from ledger.messages import current_language, text
from replay.stats import (
    DEADLINE_MEASURES,
    SAMTALE_MEASURES,
    Cell,
    Statistics,
    measure_title,
    section_title,
)

if TYPE_CHECKING:
    from types import ModuleType

    from matplotlib.figure import Figure

COLOURS = ("#1f5f8b", "#4f9d69", "#e0a32e", "#a11d1d", "#7a7a74", "#6b4c9a")


@cache
def _pyplot() -> ModuleType:
    """matplotlib's pyplot, loaded when the first chart is drawn: `bti report stats` imports
    this module for either format, and a CSV needs none of matplotlib's second and 40 MB."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # no display: charts are drawn to SVG only
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    _pyplot().close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _counts_axis(axis: Any, which: str = "y") -> None:
    """Whole numbers only on a count axis, and no frame on two sides."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - loaded with pyplot

    (axis.yaxis if which == "y" else axis.xaxis).set_major_locator(MaxNLocator(integer=True))
    axis.tick_params(labelsize=8)
    axis.spines[["top", "right"]].set_visible(False)


def _value(cell: Cell | None) -> float:
    return 0.0 if cell is None or cell.value is None else float(cell.value)


def level_chart(result: Statistics) -> str | None:
    cells = result.section("cases_by_level")
    if not cells:
        return None
    units = sorted({c.unit for c in cells})
    periods = sorted({c.period for c in cells})
    levels = sorted({c.key for c in cells})
    figure, axes = _pyplot().subplots(len(units), 1, figsize=(8, 2.4 * len(units)), squeeze=False)
    for axis, unit in zip(axes[:, 0], units, strict=True):
        bottom = [0.0] * len(periods)
        for index, level in enumerate(levels):
            values = [_value(result.value("cases_by_level", p, unit, level, "open_cases"))
                      for p in periods]
            axis.bar(periods, values, bottom=bottom, color=COLOURS[index % len(COLOURS)],
                     label=text(f"stats.key.{level}"))
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axis.set_title(unit, fontsize=10, loc="left", pad=16)
        _counts_axis(axis)
    axes[0, 0].legend(fontsize=8, ncols=4, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                      frameon=False)
    figure.tight_layout()
    return _svg(figure)


def deadline_chart(result: Statistics) -> str | None:
    cells = result.section("deadlines")
    if not cells:
        return None
    rules = sorted({c.key for c in cells})
    figure, axis = _pyplot().subplots(figsize=(8, 0.45 * len(rules) + 1.2))
    left = [0.0] * len(rules)
    labels = [text(f"deadline.{r}") for r in rules]
    for index, measure in enumerate(DEADLINE_MEASURES):
        values = [_value(result.value("deadlines", "", "", r, measure)) for r in rules]
        axis.barh(labels, values, left=left, color=COLOURS[index % len(COLOURS)],
                  label=measure_title(measure))
        left = [a + v for a, v in zip(left, values, strict=True)]
    axis.invert_yaxis()
    _counts_axis(axis, "x")
    axis.legend(fontsize=8, ncols=5, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    figure.tight_layout()
    return _svg(figure)


def new_cases_chart(result: Statistics) -> str | None:
    """Undringer noticed per month, one line per unit."""
    cells = result.section("new_cases")
    if not cells:
        return None
    periods = sorted({c.period for c in cells})
    figure, axis = _pyplot().subplots(figsize=(8, 2.6))
    for index, unit in enumerate(sorted({c.unit for c in cells})):
        values = [_value(result.value("new_cases", p, unit, "", "count")) for p in periods]
        axis.plot(periods, values, marker="o", color=COLOURS[index % len(COLOURS)], label=unit)
    _counts_axis(axis)
    axis.legend(fontsize=8, frameon=False)
    figure.tight_layout()
    return _svg(figure)


def unit_bars(result: Statistics, section: str, keys: list[tuple[str, str]]) -> str | None:
    """A grouped bar chart per unit for `(key, measure)` pairs of one section."""
    cells = result.section(section)
    if not cells:
        return None
    units = sorted({c.unit for c in cells})
    figure, axis = _pyplot().subplots(figsize=(8, 2.8))
    width = 0.8 / max(len(keys), 1)
    for index, (key, measure) in enumerate(keys):
        values = [_value(result.value(section, "", u, key, measure)) for u in units]
        positions = [i + index * width for i in range(len(units))]
        label = text(f"stats.key.{key}") if key else measure_title(measure)
        axis.bar(positions, values, width=width, color=COLOURS[index % len(COLOURS)], label=label)
    axis.set_xticks([i + width * (len(keys) - 1) / 2 for i in range(len(units))], units,
                    fontsize=8)
    _counts_axis(axis)
    if len(keys) > 1:
        axis.legend(fontsize=8, frameon=False, ncols=len(keys), loc="lower right",
                    bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    return _svg(figure)


def _table(result: Statistics, section: str, columns: list[tuple[str, str, str]]) -> str:
    """A table of one section: rows by (period, unit), one column per (key, measure)."""
    cells = result.section(section)
    rows: dict[tuple[str, str], dict[tuple[str, str], Cell]] = defaultdict(dict)
    for c in cells:
        rows[(c.period, c.unit)][(c.key, c.measure)] = c
    head_period = f"<th>{escape(text('stats.column.period'))}</th>" if any(
        p for p, _ in rows) else ""
    head_unit = f"<th>{escape(text('stats.column.unit'))}</th>" if any(u for _, u in rows) else ""
    head = head_period + head_unit + "".join(f"<th>{escape(title)}</th>" for _, _, title in columns)
    body = []
    for (period, unit), found in sorted(rows.items()):
        first = (f"<td>{escape(period)}</td>" if head_period else "") + (
            f"<td>{escape(unit)}</td>" if head_unit else "")
        values = "".join(
            f"<td class='n'>{escape(found[(k, m)].shown(result.threshold)) if (k, m) in found else '0'}</td>"
            for k, m, _ in columns
        )
        body.append(f"<tr>{first}{values}</tr>")
    if not body:
        return f"<p class='note'>{escape(text('stats.empty'))}</p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_stats_html(result: Statistics) -> str:
    """The whole page."""
    level_keys = sorted({c.key for c in result.section("cases_by_level")})
    deadline_rows = []
    for rule in sorted({c.key for c in result.section("deadlines")}):
        found = {c.measure: c for c in result.section("deadlines") if c.key == rule}
        cells = "".join(
            f"<td class='n'>{escape(found[m].shown(result.threshold)) if m in found else '0'}</td>"
            for m in DEADLINE_MEASURES
        )
        deadline_rows.append(f"<tr><td>{escape(text(f'deadline.{rule}'))}</td>{cells}</tr>")
    deadline_table = (
        "<table><thead><tr><th>" + escape(text("stats.column.rule")) + "</th>"
        + "".join(f"<th>{escape(measure_title(m))}</th>" for m in DEADLINE_MEASURES)
        + "</tr></thead><tbody>" + "".join(deadline_rows) + "</tbody></table>"
    ) if deadline_rows else f"<p class='note'>{escape(text('stats.empty'))}</p>"
    sections = [
        ("cases_by_level", level_chart(result), _table(result, "cases_by_level", [
            (k, "open_cases", text(f"stats.key.{k}")) for k in level_keys])),
        ("new_cases", new_cases_chart(result),
         _table(result, "new_cases", [("", "count", measure_title("count"))])),
        ("undring_to_samtale", unit_bars(result, "undring_to_samtale", [
            ("", m) for m in SAMTALE_MEASURES[:3]]),
         _table(result, "undring_to_samtale", [("", m, measure_title(m))
                                               for m in SAMTALE_MEASURES])),
        ("deadlines", deadline_chart(result), deadline_table),
        ("stalled", unit_bars(result, "stalled", [("", "count")]),
         _table(result, "stalled", [("", "count", measure_title("count"))])),
        ("consents", unit_bars(result, "consents", [("refused", "count"), ("withdrawn", "count")]),
         _table(result, "consents", [("refused", "count", text("stats.key.refused")),
                                     ("withdrawn", "count", text("stats.key.withdrawn"))])),
    ]
    parts = []
    for number, (section, chart, table) in enumerate(sections, start=1):
        parts.append(f"<section><h2>{number}. {escape(section_title(section))}</h2>"
                     f"<p class='note'>{escape(text(f'stats.about.{section}'))}</p>"
                     f"{f'<figure>{chart}</figure>' if chart else ''}{table}</section>")
    unit = result.unit or text("stats.all_units")
    intro = text("stats.intro", start=result.start.isoformat(), end=result.end.isoformat(),
                 unit=unit, threshold=result.threshold, rulebook=result.rulebook)
    return f"""<!DOCTYPE html>
<html lang="{current_language()}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(text("stats.title"))} {result.start} – {result.end}</title>
<style>
@page {{ size: A4; margin: 15mm; }}
html {{ font-family: "Source Sans Pro", "Segoe UI", Helvetica, Arial, sans-serif; font-size: 10.5pt;
  color: #1d1d1b; line-height: 1.4; }}
body {{ max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }}
h1 {{ font-size: 1.6rem; margin-bottom: .2rem; }}
h2 {{ font-size: 1.2rem; border-bottom: 2px solid #1d1d1b; margin-top: 1.6rem; break-after: avoid; }}
table {{ border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }}
th, td {{ text-align: left; padding: .25rem .4rem; border-bottom: 1px solid #c9c7bf; }}
th {{ background: #f3f2ee; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr, figure {{ break-inside: avoid; }}
figure {{ margin: .4rem 0; }}
figure svg {{ max-width: 100%; height: auto; }}
.note {{ color: #5b5b57; }}
</style></head><body>
<h1>{escape(text("stats.title"))}</h1>
<p class="note">{escape(intro)}</p>
{"".join(parts)}
</body></html>
"""
