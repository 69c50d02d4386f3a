"""The one-file HTML dossier: a `document.Document` as a page that opens anywhere.

Written by hand rather than with a Markdown library: the reports use six block kinds and two
inline marks, so a converter would be more code to trust than this, and the HTML comes from
the same data as the Markdown instead of being re-parsed from it. The page needs nothing
else: inline CSS, charts as inline SVG (charts.svg), no script, and a Content-Security-Policy
that forbids every remote load. It reads on a phone: every chart is drawn twice, laid out for a desktop column
and for a phone's (charts.WIDE, charts.NARROW; CSS shows one by the screen's width, so labels stay 12 px or
more), and a table too wide for a phone scrolls sideways, with a shadow on an edge that has more table beyond
it and a line under it that says so. It prints (no backgrounds, the wide charts, kept whole).
"""

from __future__ import annotations

import re
from html import escape

from trm_demo.atomic import write_text
from trm_demo.report.charts import CHAR, NARROW, WIDE, Chart, no_data_note, svg
from trm_demo.report.document import Bullets, Card, Code, Document, Paragraph, Table

RIGHT = ' class="n"'   # a numeric column, aligned right
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# Below this screen width the phone's layouts: the wide chart would fall under 11 px labels (at 16 px of page
# padding a side, 12 px x (PHONE - 32) / 640 = 11.4 px here), and a table of at least TABLE_FITS px says it scrolls.
PHONE = 640
TABLE_FITS = 390 - 32
CSS = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a;
       background: #fff; margin: 0 auto; padding: 1rem; max-width: 60rem; }
h1 { font-size: 1.6rem; line-height: 1.25; } h2 { font-size: 1.25rem; margin-top: 2rem;
     border-bottom: 1px solid #ccc; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch;
          /* the hint that a table goes on (phones hide scrollbars): a shadow on each edge with more table
             beyond it, covered by a white band that scrolls with the table once that edge is reached */
          background: linear-gradient(to right, #fff 30%, #fff0) left / 2rem 100% no-repeat local,
                      linear-gradient(to left, #fff 30%, #fff0) right / 2rem 100% no-repeat local,
                      radial-gradient(farthest-side at 0 50%, #0003, #0000) left / 0.75rem 100% no-repeat scroll,
                      radial-gradient(farthest-side at 100% 50%, #0003, #0000) right / 0.75rem 100% no-repeat scroll; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; } td.n { white-space: nowrap; }   /* headers wrap: wide tables fit a desktop */
thead th { background: #f0f0f0; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9em; }
pre { background: #f6f6f6; padding: 0.75rem; overflow-x: auto; }
.card { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: 0.4rem 1rem;
        border: 1px solid #ccc; border-radius: 0.4rem; padding: 0.5rem 1rem; line-height: 1.35; background: #f4f7fb; }
.card .label, .card .note { font-size: 0.85rem; color: #444; } .card .value { font-size: 1.1rem; font-weight: bold; }
svg.chart { width: 100%; height: auto; display: block; margin: 1rem 0; }
svg.wide { max-width: 40rem; } svg.narrow { max-width: 26rem; display: none; }
.cue { display: none; font-size: 0.85rem; color: #555; margin: 0 0 0.5rem; }
@media screen and (max-width: PHONEpx) { svg.wide { display: none; } svg.narrow, .cue { display: block; } }
@media print { body { max-width: none; } pre, thead th, .scroll, .card { background: none; }
               svg.chart, table { break-inside: avoid; } .scroll { overflow: visible; } }
""".replace("PHONE", str(PHONE))


def write_html(path, doc: Document) -> None:
    write_text(path, to_html(doc))


def to_html(doc: Document) -> str:
    body = [f"<h1>{inline(doc.title)}</h1>", *map(_block, doc.lead)]
    for s in doc.sections:
        body += [f"<h2>{inline(s.heading)}</h2>", *map(_block, s.blocks)]
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.*?)(?<!`)\1(?!`)")
ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")   # a backslash before ASCII punctuation: the character itself


def inline(text: str) -> str:
    """Escaped text with the inline marks the reports use, read as Markdown reads them: code spans first (their
    content verbatim, one space each side dropped when both are there), then backslash escapes, then **bold**,
    which may hold a code span. Held aside as private-use placeholders while the rest is read."""
    held = []

    def hold(html: str) -> str:
        held.append(html)
        return f"\ue000{len(held) - 1}\ue001"

    def span(m: re.Match) -> str:
        content = m.group(2)
        if len(content) > 1 and content[0] == content[-1] == " " and content.strip():
            content = content[1:-1]
        return hold(f"<code>{escape(content)}</code>")
    text = ESCAPED.sub(lambda m: hold(escape(m.group(1))), CODE_SPAN.sub(span, str(text)))
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escape(text))
    return re.sub("\ue000(\\d+)\ue001", lambda m: held[int(m.group(1))], text)


def _block(block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{inline(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Card):
        return '<div class="card">' + "".join(
            f'<div><div class="label">{inline(label)}</div><div class="value">{inline(value)}</div>'
            f'<div class="note">{inline(note)}</div></div>' for label, value, note in block.items) + "</div>"
    if isinstance(block, Code):
        return f"<pre><code>{escape(block.text.rstrip())}</code></pre>"
    if isinstance(block, Chart):
        return f"<p><em>{escape(no_data_note(block))}</em></p>" if block.empty else svg(block, WIDE) + svg(block, NARROW)
    raise TypeError(f"no HTML for {type(block).__name__}")


def _table(table: Table) -> str:
    def cells(tag: str, row) -> str:
        return "".join(f"<{tag}{RIGHT if i in table.numeric else ''}>{inline(cell)}</{tag}>"
                       for i, cell in enumerate(row))
    cue = (f'<p class="cue">← {len(table.header)} columns: swipe the table sideways →</p>'
           if narrowest(table) > TABLE_FITS else "")
    return ('<div class="scroll"><table><thead><tr>' + cells("th", table.header) + "</tr></thead><tbody>"
            + "".join(f"<tr>{cells('td', row)}</tr>" for row in table.rows) + "</tbody></table></div>" + cue)


def narrowest(table: Table, font: float = 16) -> float:
    """The table's narrowest width in px, estimated as the browser lays it out: each column as wide as its longest
    unbreakable text (a word, or a whole numeric cell, which does not wrap) plus padding and border."""
    def longest_word(cell) -> int:
        return max(map(len, re.split(r"[\s-]", plain(cell))), default=0)

    def widest(i: int) -> int:
        cells = [len(plain(row[i])) if i in table.numeric else longest_word(row[i]) for row in table.rows]
        return max([longest_word(table.header[i]), *cells])
    return sum(CHAR * font * widest(i) + 17 for i in range(len(table.header)))


def plain(cell) -> str:
    """A cell's text without its inline marks."""
    return re.sub(r"[`*\\]", "", str(cell))
