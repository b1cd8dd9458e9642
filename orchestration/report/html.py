"""HTML building blocks of the report: value formatting, tables, figures, sections and the page.

Everything is escaped here (campaign names, categories and reasons come from the data); the page is one
self-contained file: inline CSS, inline SVG charts, no scripts, no external references.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

import pandas as pd

from orchestration.report import charts

DASH = "–"


# --- values ------------------------------------------------------------------------------------------

def _missing(v) -> bool:
    return v is None or (pd.api.types.is_scalar(v) and pd.isna(v))


def money(v) -> str:
    return DASH if _missing(v) else f"{charts.CURRENCY} {float(v):,.0f}"


def integer(v) -> str:
    return DASH if _missing(v) else f"{int(v):,}"


def pct(v, digits: int = 1) -> str:
    return DASH if _missing(v) else f"{100 * float(v):.{digits}f}%"


def number(v, digits: int = 2) -> str:
    return DASH if _missing(v) else f"{float(v):,.{digits}f}"


def day(v) -> str:
    return DASH if _missing(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def timestamp(v) -> str:
    return DASH if _missing(v) else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S")


def month(v) -> str:
    return DASH if _missing(v) else pd.Timestamp(v).strftime("%Y-%m")


def text(v) -> str:
    return DASH if _missing(v) else str(v)


# --- blocks ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Col:
    """A table column: frame column, header, formatter, right-aligned (numbers)."""

    name: str
    header: str
    fmt: Callable[[object], str] = text
    numeric: bool = False


def table(df: pd.DataFrame, cols: Sequence[Col], table_id: str, caption: str = "") -> str:
    head = "".join(f'<th class="{"num" if c.numeric else ""}">{escape(c.header)}</th>' for c in cols)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="{"num" if c.numeric else ""}">{escape(c.fmt(row[c.name]))}</td>' for c in cols
        ) + "</tr>"
        for _, row in df.iterrows()
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (f'<table class="data" id="{escape(table_id)}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def collapsed(summary: str, content: str) -> str:
    """`content` behind a click (long tables): open in the browser, closed in print and screenshots."""
    return f"<details><summary>{escape(summary)}</summary>{content}</details>"


@dataclass(frozen=True)
class Figure:
    """A chart (inline SVG) with a stable id, title and caption."""

    chart_id: str
    title: str
    svg: str
    caption: str = ""

    def html(self) -> str:
        cap = f"<p>{escape(self.caption)}</p>" if self.caption else ""
        return (f'<figure class="chart" id="{escape(self.chart_id)}"><figcaption><strong>{escape(self.title)}'
                f"</strong>{cap}</figcaption>{self.svg}</figure>")


@dataclass
class Section:
    """A report section: intro text, charts, tables, or a 'not available' note."""

    section_id: str
    title: str
    intro: str = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    unavailable: str | None = None  # why the section's data is missing

    def html(self) -> str:
        parts = [f'<section id="{escape(self.section_id)}"><h2>{escape(self.title)}</h2>']
        if self.intro:
            parts.append(f'<p class="intro">{escape(self.intro)}</p>')
        if self.unavailable:
            parts.append('<div class="unavailable"><strong>Not available yet.</strong> '
                         f"{escape(self.unavailable)}</div>")
        if self.figures:
            parts.append('<div class="grid">' + "".join(f.html() for f in self.figures) + "</div>")
        if self.tables:
            parts.append('<div class="tables">' + "".join(self.tables) + "</div>")
        parts.append("</section>")
        return "".join(parts)


def kpis(items: Sequence[tuple[str, str, str]]) -> str:
    """Headline figures: (label, value, note) tiles."""
    tiles = "".join(
        f'<div class="kpi"><div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>'
        f'<div class="note">{escape(note)}</div></div>'
        for label, value, note in items
    )
    return f'<div class="kpis" id="kpis">{tiles}</div>'


STYLE = """
body { font-family: "DejaVu Sans", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", Arial, sans-serif;
       margin: 0; color: #222; background: #f6f7f9; font-size: 14px; }
header { background: #1f3a5f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 6px 0; font-size: 24px; }
header .fresh span { display: inline-block; margin-right: 22px; }
nav { padding: 8px 32px; background: #e8ecf2; }
nav a { margin-right: 16px; color: #1f3a5f; text-decoration: none; }
main { padding: 8px 32px 32px 32px; }
section { background: #fff; border-radius: 6px; padding: 12px 20px 18px 20px; margin: 18px 0;
          box-shadow: 0 1px 2px rgba(0,0,0,.08); }
h2 { margin: 4px 0 8px 0; font-size: 19px; color: #1f3a5f; }
p.intro { margin: 0 0 10px 0; color: #555; max-width: 1100px; }
.grid { display: flex; flex-wrap: wrap; gap: 18px; }
figure.chart { margin: 0; padding: 8px; border: 1px solid #e3e3e3; border-radius: 4px; background: #fff; }
figure.chart figcaption { font-size: 13px; margin-bottom: 6px; max-width: 640px; }
figure.chart figcaption p { margin: 2px 0 0 0; color: #666; }
figure.chart svg { display: block; }
.tables { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; margin-top: 14px; }
details summary { cursor: pointer; color: #1f3a5f; font-weight: bold; padding: 4px 0; }
table.data { border-collapse: collapse; font-size: 12.5px; }
table.data caption { text-align: left; font-weight: bold; padding: 4px 0; }
table.data th, table.data td { border-bottom: 1px solid #e6e6e6; padding: 3px 10px; text-align: left; }
table.data th { background: #f0f2f5; }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; }
.kpis { display: flex; flex-wrap: wrap; gap: 14px; margin-top: 16px; }
.kpi { background: #fff; border-radius: 6px; padding: 10px 16px; min-width: 170px;
       box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.kpi .label { color: #666; font-size: 12px; }
.kpi .value { font-size: 22px; font-weight: bold; color: #1f3a5f; }
.kpi .note { color: #888; font-size: 11px; }
.unavailable { background: #fff8e1; border: 1px solid #f0d98c; padding: 10px 14px; border-radius: 4px;
               margin-bottom: 10px; }
.ok { color: #2e7d32; } .bad { color: #c62828; }
footer { color: #777; font-size: 12px; padding: 0 32px 24px 32px; }
"""


def page(title: str, freshness: Sequence[tuple[str, str]], kpi_html: str, sections: Sequence[Section],
         footer: str) -> str:
    fresh = "".join(f"<span>{escape(k)}: <strong>{escape(v)}</strong></span>" for k, v in freshness)
    nav = "".join(f'<a href="#{escape(s.section_id)}">{escape(s.title)}</a>' for s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><div class="fresh" id="freshness">{fresh}</div></header>'
        f"<nav>{nav}</nav><main>{kpi_html}{''.join(s.html() for s in sections)}</main>"
        f"<footer>{escape(footer)}</footer></body></html>\n"
    )
