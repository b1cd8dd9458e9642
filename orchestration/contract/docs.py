"""The contract as Markdown: the per-entity column tables of `docs/extract_contract.md`."""

from __future__ import annotations

from .entities import ENTITIES
from .schema import ISO_4217


def markdown_tables() -> str:
    """The per-entity column tables of `docs/extract_contract.md` (kept in sync by a test)."""
    out = []
    for e in ENTITIES:
        out.append(f"### `{e.name}` ({e.kind}, key: {', '.join(e.key)})\n")
        if e.doc:
            out.append(f"{e.doc}\n")
        out.append("| column | type | rules |\n|---|---|---|")
        for c in e.columns:
            rules = []
            if c.name in e.key:
                rules.append("key")
            if not c.required:
                rules.append("optional column")
            if c.codes is ISO_4217:
                rules.append("an ISO 4217 currency code")
            elif c.codes:
                rules.append("one of " + ", ".join(f"`{v}`" for v in c.codes))
            if c.non_negative:
                rules.append(">= 0")
            if c.low is not None:
                rules.append(f"{c.low:g} to {c.high:g}")
            if c.event_time:
                rules.append("not after the extract date")
            if c.references:
                rules.append(f"references `{c.references}`")
            if c.field_check:
                rules.append(f"field check `{c.field_check}`")
            if c.pii:
                rules.append("personal data")
            if c.free_text:
                rules.append("free text (redacted for BI)")
            if c.doc:
                rules.append(c.doc)
            out.append(f"| `{c.name}` | {c.type} | {'; '.join(rules)} |")
        out.append("")
    return "\n".join(out)
