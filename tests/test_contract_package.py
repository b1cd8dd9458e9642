"""The extract contract as a package (orchestration/contract/): small modules, one job each, every name
importable from the package as before the split, `python -m orchestration.contract` still prints the docs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import orchestration.contract as contract_pkg
from orchestration import contract

PACKAGE = Path(contract_pkg.__file__).resolve().parent
# Names other modules use today (orchestration, ml, expectations, tests, bench, dbt_project/scripts).
USED_NAMES = (
    "ALWAYS_DELIVERED", "BAD_DATE", "BOOL", "CHANNELS_COMM", "CONFLICTING_DUPLICATE_KEY", "Column", "DATE",
    "DELTA", "EMAIL_PATTERN", "ENTITIES", "ENTITY_BY_NAME", "Entity", "FIELD_REASONS", "FUTURE_TIMESTAMP",
    "GENERIC_EMAIL_LOCAL_PARTS", "IMPOSSIBLE_BIRTH_DATE", "INT", "INVALID_EMAIL", "INVALID_PHONE", "ISO_4217",
    "LOAD_ORDER", "MANIFEST_NAME", "MIN_BIRTH_DATE", "MISSING_KEY", "MODULES", "MODULE_OF", "MONEY",
    "NEGATIVE_AMOUNT", "OPTIONAL_ENTITIES", "ORPHAN_FK", "OUT_OF_RANGE", "PHONE_PATTERN", "PRIORITIES", "RATE",
    "REASON_PRECEDENCE", "SNAPSHOT", "SUPPORTED_ENCODINGS", "TEXT", "TS", "UNKNOWN_CODE", "UNPARSEABLE_VALUE",
    "WRONG_COLUMN_COUNT", "entity", "markdown_tables",
)


def test_every_module_is_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.glob("*.py")}
    assert len(sizes) >= 5, sizes
    assert all(n <= 300 for n in sizes.values()), sizes


def test_names_import_from_the_package_both_ways():
    for name in USED_NAMES:
        exec(f"from orchestration.contract import {name}", {})  # noqa: S102 - names from the list above
        assert getattr(contract, name) is getattr(contract_pkg, name)


def test_every_public_name_of_a_module_is_exported():
    """A name a module defines at top level is reachable as contract.X (the split hides nothing)."""
    for path in PACKAGE.glob("*.py"):
        if path.name.startswith("__"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                 for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                 if isinstance(t, ast.Name)}
        names |= {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        missing = sorted(n for n in names if not n.startswith("_") and n not in contract.__all__)
        assert not missing, f"{path.name} defines {missing}, not exported by orchestration/contract/__init__.py"


def test_modules_and_load_order_cover_every_entity_once():
    assert list(contract.LOAD_ORDER) == [e.name for e in contract.ENTITIES]
    assert sorted(contract.MODULE_OF) == sorted(contract.LOAD_ORDER)
    assert sum(len(v) for v in contract.MODULES.values()) == len(contract.ENTITIES)
    assert contract.MODULES["customer"][0] == "customers" and contract.LOAD_ORDER[0] == "customers"
    for i, e in enumerate(contract.ENTITIES):  # every parent is loaded before its children
        assert all(c.references in contract.LOAD_ORDER[: i + 1] for c in e.foreign_keys), e.name


def test_python_dash_m_prints_the_doc_tables():
    out = subprocess.run([sys.executable, "-m", "orchestration.contract"], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == contract.markdown_tables().strip()
    assert "### `orders` (delta, key: order_id)" in out
