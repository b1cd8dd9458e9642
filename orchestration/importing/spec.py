"""The mapping file: parse and validate the YAML that maps a CRM export onto the extract contract.

The language is small and declarative (see docs/mappings.md): per contract entity one or more source
files, per contract column a source column (or several: first non-empty / concatenated), a constant, or a
value derived from another mapped column through a code map; optional code maps, date formats and a
default. Nothing in a mapping is evaluated as code. Every problem raises `CrmWarehouseError` naming the
mapping file and the key path (`mapping.yml: entities.customers.columns.email: ...`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestration import contract
from orchestration.errors import CrmWarehouseError
from orchestration.importing.columns import Checker, ColumnSpec, parse_column

TOP_KEYS = ("source", "site", "currency", "entities")
BLOCK_KEYS = ("file", "delimiter", "skip", "columns")


@dataclass(frozen=True)
class SourceSpec:
    """One source file feeding one contract entity."""

    entity: str
    file: str  # relative to the export folder
    path: str  # key path of the block, e.g. `entities.customers[0]`
    delimiter: str
    skip: tuple[tuple[str, tuple[str, ...]], ...]  # (source column, lower-cased values): rows left out
    columns: tuple[ColumnSpec, ...]  # in contract column order

    def source_columns(self) -> list[tuple[str, str]]:
        """Every source column the block names, with the key path naming it (first mention)."""
        seen: dict[str, str] = {}
        for name, _ in self.skip:
            seen.setdefault(name, f"{self.path}.skip.{name}")
        for spec in self.columns:
            for name in spec.sources:
                seen.setdefault(name, spec.path)
        return list(seen.items())


@dataclass(frozen=True)
class Mapping:
    path: Path
    name: str
    site: str | None
    currency: str
    sources: tuple[SourceSpec, ...]  # in contract load order, then in file order

    @property
    def entities(self) -> list[str]:
        """The contract entities this export delivers, in load order."""
        return list(dict.fromkeys(s.entity for s in self.sources))


class _Loader(yaml.SafeLoader):
    """YAML 1.2-style booleans (only true/false; `Yes`/`No`/`On` stay text) and no duplicate keys."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _mapping_no_duplicates(loader: _Loader, node: yaml.MappingNode) -> dict:
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` keys may be overridden
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates)


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping file."""
    ck = Checker(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe loader subclass
    except FileNotFoundError:
        raise CrmWarehouseError(f"{path}: mapping file not found (--mapping)") from None
    except UnicodeDecodeError as exc:
        raise CrmWarehouseError(f"{path}: not UTF-8 (byte {exc.start}); save the mapping as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CrmWarehouseError(f"{path}: {at}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict):
        raise CrmWarehouseError(f"{path}: expected a mapping with keys {', '.join(TOP_KEYS)}")
    ck.keys(data, TOP_KEYS, "")
    currency = ck.text(data.get("currency"), "currency")
    if currency is None:
        ck.fail("currency", "missing; give the ISO 4217 code of the export's money columns (e.g. USD)")
    currency = _check_currency(ck, currency.upper())
    entities = data.get("entities")
    if not isinstance(entities, dict) or not entities:
        ck.fail("entities", "expected a mapping of contract entity -> source file block(s)")
    for name in entities:
        if name not in contract.ENTITY_BY_NAME:
            ck.fail(f"entities.{name}", f"unknown contract entity; expected one of {', '.join(contract.LOAD_ORDER)}")
    sources = []
    for name in contract.LOAD_ORDER:
        if name not in entities:
            continue
        blocks = entities[name]
        if isinstance(blocks, dict):
            sources.append(_block(ck, contract.entity(name), blocks, f"entities.{name}"))
        elif isinstance(blocks, list) and blocks:
            sources.extend(_block(ck, contract.entity(name), b, f"entities.{name}[{i}]") for i, b in enumerate(blocks))
        else:
            ck.fail(f"entities.{name}", "expected a block (file, columns) or a non-empty list of blocks")
    return Mapping(
        path=path,
        name=ck.text(data.get("source"), "source") or path.stem,
        site=ck.text(data.get("site"), "site"),
        currency=currency,
        sources=tuple(sources),
    )


def _check_currency(ck: Checker, code: str) -> str:
    try:
        from babel.numbers import list_currencies  # ISO 4217 list (Babel is a dbt dependency)

        known = set(list_currencies())
    except ImportError:  # pragma: no cover - Babel is in the lock file
        known = None
    if not re.fullmatch(r"[A-Z]{3}", code) or (known is not None and code not in known):
        ck.fail("currency", f"{code!r} is not an ISO 4217 currency code (e.g. USD, EUR, CNY)")
    return code


def _block(ck: Checker, ent: contract.Entity, data: object, where: str) -> SourceSpec:
    if not isinstance(data, dict):
        ck.fail(where, "expected a block with keys file, columns (and optionally delimiter, skip)")
    ck.keys(data, BLOCK_KEYS, where)
    file = data.get("file")
    if not isinstance(file, str) or not file.strip():
        ck.fail(f"{where}.file", "missing; name the source file (relative to the export folder)")
    if Path(file).is_absolute() or ".." in Path(file).parts:
        ck.fail(f"{where}.file", "must be a path inside the export folder")
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        ck.fail(f"{where}.delimiter", "expected one character, e.g. ',' or ';'")
    skip_raw = data.get("skip") or {}
    if not isinstance(skip_raw, dict):
        ck.fail(f"{where}.skip", "expected a mapping of source column -> value(s) whose rows are left out")
    skip = []
    for col, values in skip_raw.items():
        items = values if isinstance(values, list) else [values]
        texts = [ck.text(v, f"{where}.skip.{col}") for v in items]
        skip.append((str(col).strip(), tuple(t.lower() for t in texts if t is not None)))
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        ck.fail(f"{where}.columns", "expected a mapping of contract column -> source column or spec")
    for col in columns:
        if col not in ent.column_names:
            ck.fail(f"{where}.columns.{col}",
                    f"unknown contract column; {ent.name} has {', '.join(ent.column_names)}")
    missing = [c for c in ent.required_columns if c not in columns]
    if missing:
        ck.fail(f"{where}.columns", f"contract column(s) {', '.join(missing)} not mapped; map each to a source "
                "column, a {value: ...}, or ~ (empty) where the source has none")
    specs = {c: parse_column(ck, ent, c, columns[c], f"{where}.columns.{c}") for c in ent.column_names if c in columns}
    for spec in specs.values():
        if spec.kind == "derive":
            base = specs.get(spec.derive_from)
            if base is None or base.kind == "derive":
                ck.fail(f"{spec.path}.derive_from",
                        f"{spec.derive_from!r} must be a contract column mapped in this block (not itself derived)")
    return SourceSpec(ent.name, file.strip(), where, delimiter, tuple(skip), tuple(specs.values()))
