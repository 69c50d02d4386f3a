"""A report as data: sections of a few block kinds, rendered to Markdown here and to HTML by html.py.

Both reports (executive and reasoning) build one `Document`; the Markdown and the HTML
dossier are two renderings of it, so they carry the same sections and the same numbers.
Text may use two inline marks, `**bold**` and `` `code` ``, and backslash escapes; nothing else is interpreted.
Whatever a user typed enters a text through `escaped()` (escaped for Markdown) or `code()` (a code span that
its content cannot close), so a config value, a flag or a file name cannot open a fence, a heading, a table
cell or a tag.
Adding a chart or a table row to a report is one more block or row, never new drawing code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trm_demo.report.charts import Chart, legend, mermaid, no_data_note
from trm_demo.report.formats import printable

# Markdown's punctuation that can start a mark, a link, a tag or an entity; each is backslash-escaped in escaped().
SPECIAL = re.compile(r"([\\`*_\[\]<>#!~&])")


def escaped(value) -> str:
    """A user's value inside Markdown text: one line, every mark escaped (html.inline reads the escapes back)."""
    return SPECIAL.sub(r"\\\1", printable(value))


def code(value) -> str:
    """A user's value as a code span: one line, fenced by one backtick more than its longest run of them."""
    value = printable(value)
    fence = "`" * (max(map(len, re.findall(r"`+", value)), default=0) + 1)
    pad = " " if not value or value[0] in "` " or value[-1] in "` " else ""
    return f"{fence}{pad}{value}{pad}{fence}"


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple


@dataclass(frozen=True)
class Table:
    header: tuple
    rows: tuple
    numeric: tuple = ()    # column indexes aligned right


@dataclass(frozen=True)
class Code:
    text: str
    language: str = ""


@dataclass(frozen=True)
class Card:
    """The figures a reader needs first, each (label, value, note): a row of boxes in HTML, a table in Markdown."""
    items: tuple


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple


@dataclass(frozen=True)
class Document:
    title: str
    lead: tuple                      # blocks before the first section
    sections: tuple = field(default=())


def section(heading: str, *blocks) -> Section:
    """A section of the blocks given, skipping the None of a block the run has nothing for."""
    return Section(heading, tuple(b for b in blocks if b is not None))


# --- Markdown ----------------------------------------------------------------------------------

def to_markdown(doc: Document) -> str:
    parts = [f"# {doc.title}", *map(_block_md, doc.lead)]
    for s in doc.sections:
        parts += [f"## {s.heading}", *map(_block_md, s.blocks)]
    return "\n\n".join(parts) + "\n"


def _block_md(block) -> str:
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Table):
        align = ["---:" if i in block.numeric else "---" for i in range(len(block.header))]
        # a | splits a cell even inside a code span: escaped in every cell (GFM reads \| back as |)
        return "\n".join("| " + " | ".join(str(cell).replace("|", "\\|") for cell in line) + " |"
                         for line in [block.header, align, *block.rows])
    if isinstance(block, Card):
        return _block_md(Table(tuple(label for label, _, _ in block.items),
                               (tuple(f"**{value}** ({note})" for _, value, note in block.items),)))
    if isinstance(block, Code):   # a fence longer than any run of backticks inside, so nothing closes it early
        fence = "`" * max(3, max(map(len, re.findall(r"`+", block.text)), default=0) + 1)
        return f"{fence}{block.language}\n{block.text.rstrip()}\n{fence}"
    if isinstance(block, Chart):
        if block.empty:
            return f"_{no_data_note(block)}_"
        return mermaid(block) + f"\n\n_Colours: {legend(block)}._"
    raise TypeError(f"no Markdown for {type(block).__name__}")
