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
from datetime import date, datetime
from pathlib import Path

import yaml

from orchestration import contract
from orchestration.errors import CrmWarehouseError

TOP_KEYS = ("source", "site", "currency", "entities")
BLOCK_KEYS = ("file", "delimiter", "skip", "columns")
SPEC_KEYS = ("from", "concat", "value", "derive_from", "sep", "split", "format", "codes", "default")
BASES = ("from", "concat", "value", "derive_from")
EPOCH_FORMATS = ("epoch_ms", "epoch_s")
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")


@dataclass(frozen=True)
class ColumnSpec:
    """How one contract column of one source block is filled."""

    column: str  # contract column
    path: str  # key path in the mapping file, for messages
    kind: str  # empty | from | concat | value | derive
    sources: tuple[str, ...] = ()  # source columns (from: first non-empty wins; concat: joined)
    value: str | None = None  # the constant of kind `value`
    derive_from: str | None = None  # contract column of the same block (kind `derive`)
    sep: str = " "  # concat separator
    split: str | None = None  # keep the first item of a list separated by this
    formats: tuple[str, ...] = ()  # strptime formats, or one of EPOCH_FORMATS
    codes: tuple[tuple[str, str | None], ...] | None = None  # lower-cased source value -> contract value
    default: str | None = None  # used when the result is empty (derive: when no code matched)


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


class _Checker:
    """Raises errors prefixed with the mapping file name."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)

    def fail(self, where: str, message: str) -> None:
        raise CrmWarehouseError(f"{self.file}: {where}: {message}")

    def text(self, value: object, where: str) -> str | None:
        """A YAML scalar as contract text (true/false, numbers as written, dates ISO)."""
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime | date):
            return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
        if isinstance(value, int | float | str):
            text = str(value).strip()
            return text or None
        self.fail(where, f"expected a single value, got {type(value).__name__}")
        return None  # pragma: no cover

    def names(self, value: object, where: str) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
            self.fail(where, "expected a source column name or a non-empty list of them")
        return tuple(v.strip() for v in items)

    def keys(self, data: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(f"{where}.{key}" if where else str(key),
                          f"unknown key; expected one of {', '.join(allowed)}")


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping file."""
    ck = _Checker(path)
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


def _check_currency(ck: _Checker, code: str) -> str:
    try:
        from babel.numbers import list_currencies  # ISO 4217 list (Babel is a dbt dependency)

        known = set(list_currencies())
    except ImportError:  # pragma: no cover - Babel is in the lock file
        known = None
    if not re.fullmatch(r"[A-Z]{3}", code) or (known is not None and code not in known):
        ck.fail("currency", f"{code!r} is not an ISO 4217 currency code (e.g. USD, EUR, CNY)")
    return code


def _block(ck: _Checker, ent: contract.Entity, data: object, where: str) -> SourceSpec:
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
    specs = {c: _column(ck, ent, c, columns[c], f"{where}.columns.{c}") for c in ent.column_names if c in columns}
    for spec in specs.values():
        if spec.kind == "derive":
            base = specs.get(spec.derive_from)
            if base is None or base.kind == "derive":
                ck.fail(f"{spec.path}.derive_from",
                        f"{spec.derive_from!r} must be a contract column mapped in this block (not itself derived)")
    return SourceSpec(ent.name, file.strip(), where, delimiter, tuple(skip), tuple(specs.values()))


def _column(ck: _Checker, ent: contract.Entity, name: str, raw: object, where: str) -> ColumnSpec:
    col = ent.column(name)
    if raw is None or isinstance(raw, str):
        if raw is None or not raw.strip():
            if name in ent.key:
                ck.fail(where, "a key column cannot be empty; map it to a source column")
            return ColumnSpec(name, where, "empty")
        raw = {"from": raw}
    if not isinstance(raw, dict):
        ck.fail(where, "expected a source column name, ~ (empty) or a spec with one of " + ", ".join(BASES))
    ck.keys(raw, SPEC_KEYS, where)
    bases = [k for k in BASES if k in raw]
    if len(bases) != 1:
        ck.fail(where, f"give exactly one of {', '.join(BASES)}")
    base = bases[0]
    fields: dict = {}
    if base == "from":
        fields.update(kind="from", sources=ck.names(raw["from"], f"{where}.from"))
    elif base == "concat":
        fields.update(kind="concat", sources=ck.names(raw["concat"], f"{where}.concat"))
        if "sep" in raw:
            if not isinstance(raw["sep"], str):
                ck.fail(f"{where}.sep", "expected text, e.g. ' '")
            fields["sep"] = raw["sep"]
    elif base == "value":
        value = ck.text(raw["value"], f"{where}.value")
        fields.update(kind="value" if value is not None else "empty", value=_allowed(ck, col, value, f"{where}.value"))
        if value is None and name in ent.key:
            ck.fail(where, "a key column cannot be empty; map it to a source column")
    else:
        other = raw["derive_from"]
        if other not in ent.column_names or other == name:
            ck.fail(f"{where}.derive_from", f"expected another contract column of {ent.name}")
        if "codes" not in raw:
            ck.fail(where, "derive_from needs codes: which values of the other column give which value")
        fields.update(kind="derive", derive_from=other)
    if "sep" in raw and base != "concat":
        ck.fail(f"{where}.sep", "only applies with concat")
    if "split" in raw:
        if base not in ("from", "concat") or not isinstance(raw["split"], str) or not raw["split"]:
            ck.fail(f"{where}.split", "expected a separator text, with from or concat")
        fields["split"] = raw["split"]
    if "format" in raw:
        fields["formats"] = _formats(ck, col, raw["format"], base, f"{where}.format")
    if "codes" in raw:
        fields["codes"] = _codes(ck, col, raw["codes"], f"{where}.codes")
    if "default" in raw:
        fields["default"] = _allowed(ck, col, ck.text(raw["default"], f"{where}.default"), f"{where}.default")
    return ColumnSpec(name, where, **fields)


def _allowed(ck: _Checker, col: contract.Column, value: str | None, where: str) -> str | None:
    """A value the mapping itself writes must be valid for the column (codes, booleans)."""
    if value is None:
        return None
    if col.codes:
        for code in col.codes:
            if code.lower() == value.lower():
                return code
        ck.fail(where, f"{value!r} is not a {col.name} code; expected one of {', '.join(col.codes)}")
    if col.type == contract.BOOL:
        if value.lower() not in ("true", "false"):
            ck.fail(where, f"{value!r} is not a boolean; expected true or false")
        return value.lower()
    return value


def _formats(ck: _Checker, col: contract.Column, raw: object, base: str, where: str) -> tuple[str, ...]:
    if col.type not in (contract.DATE, contract.TS):
        ck.fail(where, f"format only applies to DATE and TIMESTAMP columns; {col.name} is {col.type}")
    if base not in ("from", "concat"):
        ck.fail(where, "format applies to values read from the source (from, concat)")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(f, str) and f for f in items):
        ck.fail(where, "expected a strptime format (e.g. '%m/%d/%Y %I:%M %p'), a list of them, or epoch_ms / epoch_s")
    if any(f in EPOCH_FORMATS for f in items):
        if len(items) != 1:
            ck.fail(where, "epoch_ms / epoch_s cannot be combined with other formats")
        return tuple(items)
    import duckdb

    with duckdb.connect() as con:
        try:
            con.execute("SELECT try_strptime('2000-01-01', $f)", {"f": items}).fetchall()
        except duckdb.Error as exc:
            ck.fail(where, f"not a valid strptime format ({str(exc).splitlines()[0]})")
    return tuple(items)


def _codes(ck: _Checker, col: contract.Column, raw: object, where: str) -> tuple[tuple[str, str | None], ...]:
    if not isinstance(raw, dict) or not raw:
        ck.fail(where, "expected a mapping of source value -> contract value (~ for empty)")
    out: dict[str, str | None] = {}
    for key, value in raw.items():
        k = ck.text(key, where)
        if k is None:
            ck.fail(where, "a source value cannot be empty; use default for empty values")
        if k.lower() in out:
            ck.fail(f"{where}.{k}", "listed twice (source values are compared case-insensitively)")
        out[k.lower()] = _allowed(ck, col, ck.text(value, f"{where}.{k}"), f"{where}.{k}")
    return tuple(out.items())
