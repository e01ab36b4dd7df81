"""A report as a list of blocks, rendered to Markdown and to one self-contained HTML file.

Both files come from the same blocks so that they can never disagree. The HTML needs nothing but a
browser: the style sheet is inline and every plot is embedded as a base64 `data:` URI, so the file
opens the same from an e-mail attachment, a copied results folder or a machine with no network.
Inline markup is limited to what the text uses: `**strong**` and `` `code` ``.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    header: list[str]
    right: list[bool]  # right-aligned columns: numbers right, names left, as people read them
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    path: Path  # a PNG beside report.md; Markdown links it, HTML embeds its bytes
    alt: str


Block = Heading | Para | Bullets | Table | Image


def table_markdown(table: Table) -> str:
    lines = [
        _md_row(table.header),
        "|" + "|".join("---:" if right else "---" for right in table.right) + "|",
        *(_md_row(row) for row in table.rows),
    ]
    return "\n".join(lines) + "\n"


def to_markdown(blocks: list[Block]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}\n")
        elif isinstance(block, Para):
            parts.append(block.text + "\n")
        elif isinstance(block, Bullets):
            parts.append("".join(f"- {item}\n" for item in block.items))
        elif isinstance(block, Table):
            parts.append(table_markdown(block))
        else:
            parts.append(f"![{block.alt}]({block.path.name})\n")
    return "\n".join(parts)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em;
       color: #1d1d1f; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: top; }
th { background: #f2f2f2; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #f2f2f2; padding: 0 0.2em; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0 1.5em; }
"""


def to_html(blocks: list[Block], title: str) -> str:
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        else:
            data = base64.b64encode(block.path.read_bytes()).decode("ascii")
            body.append(f'<img alt="{html.escape(block.alt)}" src="data:image/png;base64,{data}">')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_table(table: Table) -> str:
    def cells(tag: str, row: list[str]) -> str:
        return "".join(
            f"<{tag}{_RIGHT if right else ''}>{_inline(text)}</{tag}>"
            for text, right in zip(row, table.right, strict=True)
        )

    head = f"<thead><tr>{cells('th', table.header)}</tr></thead>"
    rows = "".join(f"<tr>{cells('td', row)}</tr>" for row in table.rows)
    return f"<table>{head}<tbody>{rows}</tbody></table>"


_RIGHT = ' class="r"'
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    return _CODE.sub(r"<code>\1</code>", _STRONG.sub(r"<strong>\1</strong>", escaped))


def _md_row(cells: list[str]) -> str:
    # A "|" inside a cell would end it early; evidence text may quote one.
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
