"""The site configuration: what this company's CRM delivers, in one file (`crm.yml`) plus overrides.

Where it is read from (first found wins): `$CRM_SITE_CONFIG`, else `$CRM_LANDING_DIR/crm.yml` (the file
`crm-warehouse import` writes beside the extracts it produces). Without a file the site is the full CRM
the generator writes: every module, currency CNY.

```yaml
site: acme-retail            # a name for logs and the report (optional)
currency: USD                # ISO 4217 code of the site currency: every money column is in it
modules: [customer, sales]   # CRM modules delivered (default: all); see contract.MODULES
entities: [customers, orders, order_items, fx_rates]   # or exactly which entities (with `modules`: also)
ml:                          # model settings (orchestration/ml_assets/settings.py)
  campaign_outcomes: [conversion, revenue, visit]
```

Environment overrides (the README's configuration table): `CRM_SITE_CURRENCY`, `CRM_SITE_MODULES`,
`CRM_SITE_ENTITIES` (comma-separated). `customers` is always delivered; `fx_rates` (contract
OPTIONAL_ENTITIES) only where `entities` names it: rows in another currency than the site's are converted
with it.

An entity the site does not deliver has no raw gate, its staging/marts exist empty, dbt tests on models
of absent modules are skipped, foreign keys pointing at it are not checked (nothing to check against),
and `ops.module_status` says which modules are present, partial or absent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from orchestration import contract
from orchestration.errors import CrmWarehouseError
from orchestration.ml_assets.settings import MlSettings
from orchestration.passthrough import PassthroughColumn, parse_passthrough

SITE_FILE_NAME = "crm.yml"
DEFAULT_CURRENCY = "CNY"
KNOWN_KEYS = ("site", "currency", "modules", "entities", "ml", "passthrough")


@dataclass(frozen=True)
class Site:
    name: str = "crm"
    currency: str = DEFAULT_CURRENCY
    entities: tuple[str, ...] = contract.LOAD_ORDER  # in load order
    source: str = "defaults"  # the file (or "defaults") this configuration came from
    ml: MlSettings = field(default_factory=MlSettings)
    passthrough: tuple[PassthroughColumn, ...] = ()  # extra extract columns promoted to mart columns

    def delivers(self, entity: str) -> bool:
        return entity in self.entities

    def module_status(self, module: str) -> str:
        """present (every entity), partial (some) or absent (none)."""
        ents = [e for e in contract.MODULES[module] if e not in contract.OPTIONAL_ENTITIES]
        have = sum(e in self.entities for e in ents)
        return "present" if have == len(ents) else "absent" if have == 0 else "partial"

    @property
    def absent_modules(self) -> tuple[str, ...]:
        return tuple(m for m in contract.MODULES if self.module_status(m) == "absent")


def _iso_currencies() -> frozenset[str]:
    from babel.numbers import list_currencies  # Babel ships the ISO 4217 list (a dbt/agate dependency)

    return frozenset(list_currencies())


def check_currency(code: object, where: str) -> str:
    value = str(code or "").strip().upper()
    if value not in _iso_currencies():
        raise CrmWarehouseError(f"{where}: {code!r} is not an ISO 4217 currency code (e.g. CNY, USD, EUR)")
    return value


def _names(value: object, allowed: tuple[str, ...], what: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CrmWarehouseError(f"{where}: expected a list of {what} names")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise CrmWarehouseError(f"{where}: unknown {what} {', '.join(map(repr, unknown))}; expected some of "
                                f"{', '.join(allowed)}")
    return tuple(value)


def site_file(landing_dir: Path | None = None) -> Path | None:
    """The configuration file in force, or None (defaults)."""
    explicit = os.environ.get("CRM_SITE_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise CrmWarehouseError(f"CRM_SITE_CONFIG={explicit}: no such file")
        return path
    landing = Path(landing_dir or os.environ.get("CRM_LANDING_DIR") or "landing")
    candidate = landing / SITE_FILE_NAME
    return candidate if candidate.is_file() else None


def parse_site(data: dict, where: str, env: dict | None = None) -> Site:
    """A Site from the parsed YAML mapping (keys named in errors as `<file>: <key>`), then env overrides."""
    env = os.environ if env is None else env
    if not isinstance(data, dict):
        raise CrmWarehouseError(f"{where}: expected a mapping with keys {', '.join(KNOWN_KEYS)}")
    unknown = sorted(set(data) - set(KNOWN_KEYS))
    if unknown:
        raise CrmWarehouseError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(KNOWN_KEYS)}")
    currency = check_currency(env.get("CRM_SITE_CURRENCY") or data.get("currency") or DEFAULT_CURRENCY,
                              "CRM_SITE_CURRENCY" if env.get("CRM_SITE_CURRENCY") else f"{where}: currency")
    modules_raw = env.get("CRM_SITE_MODULES") or data.get("modules")
    entities_raw = env.get("CRM_SITE_ENTITIES") or data.get("entities")
    if modules_raw is None and entities_raw is None:
        modules_raw = list(contract.MODULES)
    chosen = set(contract.ALWAYS_DELIVERED)
    if modules_raw is not None:  # every entity of these modules but the optional ones (fx_rates)
        modules = _names(modules_raw, tuple(contract.MODULES), "module", f"{where}: modules")
        chosen |= {e for m in modules for e in contract.MODULES[m] if e not in contract.OPTIONAL_ENTITIES}
    if entities_raw is not None:  # exactly these (and those of `modules`, when both are given)
        chosen |= set(_names(entities_raw, contract.LOAD_ORDER, "entity", f"{where}: entities"))
    ml = MlSettings.from_mapping(data.get("ml") or {}, f"{where}: ml")
    return Site(
        name=str(data.get("site") or "crm"),
        currency=currency,
        entities=tuple(e for e in contract.LOAD_ORDER if e in chosen),
        source=where,
        ml=ml,
        passthrough=parse_passthrough(data.get("passthrough"), f"{where}: passthrough"),
    )


@cache
def _load(path: str | None, mtime: int, env_key: tuple) -> Site:
    env = dict(env_key)
    if path is None:
        return parse_site({}, "defaults", env)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise CrmWarehouseError(f"{path}:{at} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_site(data, path, env)


OVERRIDE_VARS = ("CRM_SITE_CURRENCY", "CRM_SITE_MODULES", "CRM_SITE_ENTITIES")


def load_site(landing_dir: Path | None = None) -> Site:
    """The site configuration in force (cached per file version and override values)."""
    path = site_file(landing_dir)
    mtime = path.stat().st_mtime_ns if path else 0
    env_key = tuple((k, os.environ[k]) for k in OVERRIDE_VARS if os.environ.get(k))
    return _load(str(path) if path else None, mtime, env_key)
