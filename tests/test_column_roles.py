"""Column roles declared in dbt `meta` (orchestration/column_roles.py) decide what `forget` deletes, whom
it resolves and what publishing withholds; the project's models declare a role for every column that
the old naming rules (`*_customer_id`, `*_order_id`, `*_hash`, `*_masked`, `*_redacted`, the contract's
personal-data names) would have picked, so nothing changes silently.

The first tests run the privacy and publishing code on hand-made DuckDB files against a small manifest
(a temporary dbt project given through CRM_DBT_PROJECT_DIR); the last ones read the project's manifest.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration import contract
from orchestration.column_roles import MASTER, SOURCE, name_id_kind, roles
from orchestration.errors import CrmWarehouseError
from orchestration.privacy import suppress
from orchestration.privacy.matching import Sweeper
from orchestration.privacy.person import resolve
from orchestration.privacy.targets import plan_duckdb
from orchestration.serving.publish import publish
from orchestration.settings import dbt_manifest_path

PROJECT_MANIFEST = dbt_manifest_path()  # the repo's (or CRM_DBT_PROJECT_DIR's) manifest, read at import
BI_FACING = ("marts", "reports")


def _node(schema: str, name: str, columns: dict[str, dict]) -> tuple[str, dict]:
    return f"model.crm_warehouse.{name}", {
        "resource_type": "model", "name": name, "alias": name, "schema": schema,
        "original_file_path": f"models/{schema}/{name}.sql",
        "columns": {c: {"name": c, "meta": {}, "config": {"meta": meta}} for c, meta in columns.items()},
    }


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A dbt project folder whose manifest the test writes (`write(nodes)`), used via CRM_DBT_PROJECT_DIR."""
    folder = tmp_path / "dbt"
    (folder / "target").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text("name: t\n")
    (folder / "profiles.yml").write_text("t: {}\n")
    monkeypatch.setenv("CRM_DBT_PROJECT_DIR", str(folder))

    def write(*nodes: tuple[str, dict]) -> Path:
        path = folder / "target" / "manifest.json"
        path.write_text(json.dumps({"nodes": dict(nodes)}))
        return path

    return write


# A mart of gift cards: `customer_id` is the card's shop-internal holder code (not a customer of the
# CRM), `giver` is the customer who paid; `order_id` is a voucher number, `gift_order` the real order.
GIFTS = _node("marts", "fct_gifts", {
    "customer_id": {"customer_key": False}, "giver": {"customer_key": "source"},
    "order_id": {"order_key": False}, "gift_order": {"order_key": True}, "amount": {},
})


def _gifts_file(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.fct_gifts AS SELECT * FROM (VALUES "
                    "('C00000001', 'C00000007', 'O00000009', 'O00000008', 1, 'C00000001'), "  # holder code only
                    "('C00000007', 'C00000001', 'O00000008', 'O00000007', 2, 'x'), "  # given by the person
                    "('C00000007', 'C00000007', 'O00000001', 'O00000008', 3, 'x'), "  # voucher number only
                    "('C00000007', 'C00000007', 'O00000007', 'O00000001', 4, 'x')) "  # the person's order
                    "t(customer_id, giver, order_id, gift_order, amount, recipient_customer_id)")
    return path


def _sweeper(tmp_path: Path) -> Sweeper:
    return Sweeper(suppress.Hasher(b"k"), suppress.ForgottenList(tmp_path / "none"), ["C00000001"], ["O00000001"])


def test_meta_decides_which_columns_forget_deletes_by(project, tmp_path):
    project(GIFTS)
    db = _gifts_file(tmp_path / "w.duckdb")
    (target,), plan = plan_duckdb(db, _sweeper(tmp_path))
    # giver and gift_order are keys by meta; customer_id / order_id are not; recipient_customer_id is not
    # in the yml, so the naming convention still makes it a key (an undeclared column misses nothing)
    assert sorted(target.id_columns) == [('"gift_order"', "order_id"), ('"giver"', "customer_id"),
                                         ('"recipient_customer_id"', "customer_id")]
    assert plan.removed == {"marts.fct_gifts": 3}  # rows 1 (recipient), 2 (giver), 4 (gift_order); not 3


def test_without_a_manifest_every_table_follows_the_naming_convention(project, tmp_path):
    db = _gifts_file(tmp_path / "w.duckdb")  # no manifest written
    assert roles().manifest is None
    (target,), plan = plan_duckdb(db, _sweeper(tmp_path))
    assert sorted(c for c, _ in target.id_columns) == ['"customer_id"', '"order_id"', '"recipient_customer_id"']
    assert plan.removed == {"marts.fct_gifts": 2}  # rows 1 (customer_id) and 3 (order_id)


def test_identity_maps_and_order_tables_are_found_by_role_not_by_name(project, tmp_path):
    project(
        _node("marts", "person_links", {"record": {"customer_key": SOURCE}, "person": {"customer_key": MASTER}}),
        _node("marts", "sales", {"buyer": {"customer_key": SOURCE}, "ref": {"order_key": True}}),
        _node("marts", "look_alike", {"customer_id": {"customer_key": False}, "master_customer_id": {}}),
    )
    work = tmp_path / "work.duckdb"
    with duckdb.connect(str(work)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.person_links AS SELECT * FROM (VALUES ('C1', 'C1'), ('C2', 'C1'), "
                    "('C3', 'C3')) t(record, person)")
        con.execute("CREATE TABLE marts.sales AS SELECT * FROM (VALUES ('C2', 'O5'), ('C3', 'O6')) t(buyer, ref)")
        # named like an identity map, declared as none: C3 and C9 are not one person
        con.execute("CREATE TABLE marts.look_alike AS SELECT 'C9' AS customer_id, 'C3' AS master_customer_id")
    raw = tmp_path / "raw"
    person = resolve(work, raw, "C2")
    assert person.customer_ids == ["C1", "C2"] and person.order_ids == ["O5"]
    assert resolve(work, raw, "C3").customer_ids == ["C3"]


def test_publish_withholds_plaintext_personal_data_outside_restricted(project, tmp_path, monkeypatch):
    project(
        _node("marts", "dim_people", {"person_id": {"customer_key": MASTER}, "contact": {"pii": "email"},
                                      "contact_masked": {"pii": "email", "pii_form": "masked"}}),
        _node("restricted", "people", {"person_id": {"customer_key": MASTER}, "contact": {"pii": "email"}}),
    )
    work = tmp_path / "work.duckdb"
    with duckdb.connect(str(work)) as con:
        for schema, table in (("marts", "dim_people"), ("restricted", "people")):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.execute(f"CREATE TABLE {schema}.{table} AS SELECT 'C1' AS person_id, 'wei@example.com' AS contact, "
                        "'w***@example.com' AS contact_masked")
    said: list[str] = []
    monkeypatch.setenv("CRM_PUBLISH_RESTRICTED", "1")
    serving = tmp_path / "wh" / "crm.duckdb"
    publish(work, serving, date(2025, 1, 1), log=said.append)
    with duckdb.connect(str(serving), read_only=True) as con:
        assert [c[0] for c in con.execute("DESCRIBE marts.dim_people").fetchall()] == ["person_id", "contact_masked"]
        assert "contact" in [c[0] for c in con.execute("DESCRIBE restricted.people").fetchall()]
    assert any("marts.dim_people: contact withheld" in s for s in said)


def test_an_invalid_role_is_one_clear_error_naming_the_model(project):
    project(_node("marts", "bad", {"customer_id": {"customer_key": "yes"}}))
    with pytest.raises(CrmWarehouseError, match=r"models/marts/bad.sql: bad.customer_id: meta customer_key"):
        roles()


def test_raw_zone_roles_come_from_the_contract():
    for ent in contract.ENTITIES:
        for c in ent.columns:
            expected = "customer_id" if c.references == "customers" or (ent.name, ent.key) == ("customers", (c.name,)) \
                else "order_id" if c.references == "orders" or (ent.name, ent.key) == ("orders", (c.name,)) else None
            assert suppress.id_kind(ent, c.name) == expected, (ent.name, c.name)


# --- the project's models ------------------------------------------------------------------------------

def _project_models() -> list[dict]:
    nodes = json.loads(PROJECT_MANIFEST.read_text(encoding="utf-8"))["nodes"].values()
    return [n for n in nodes if n["resource_type"] == "model" and not n["original_file_path"].startswith("models/staging/")]


CONTRACT_PII = {c.name for e in contract.ENTITIES for c in e.columns if c.pii or c.free_text}
OLD_RULES = re.compile(r"_(hash|masked|redacted|key)$")


def test_every_column_the_old_name_rules_would_pick_declares_its_role():
    book = roles(PROJECT_MANIFEST)
    missing = []
    for n in _project_models():
        rel = book.relations[(n["schema"], n["alias"])]
        for col in n["columns"]:
            looks = name_id_kind(col) or OLD_RULES.search(col) or col in CONTRACT_PII or col == "subject"
            if looks and rel.declared.get(col) is None:
                missing.append(f"{rel.path}: {col}")
    assert not missing, f"declare customer_key / order_key / pii in the column's meta: {missing}"
    keys = {(n["schema"], n["alias"], c) for n in _project_models() for c in n["columns"] if name_id_kind(c)}
    assert len(keys) > 40  # the identifier columns of marts, intermediate and restricted


def test_bi_facing_models_hold_no_plaintext_personal_data_and_every_hash_is_tested():
    book = roles(PROJECT_MANIFEST)
    nodes = json.loads(PROJECT_MANIFEST.read_text(encoding="utf-8"))["nodes"]
    tested = {(nodes[t["attached_node"]]["alias"], t["column_name"]) for t in nodes.values()
              if t["resource_type"] == "test" and (t.get("test_metadata") or {}).get("name") == "keyed_hash"}
    hashes, plain = set(), []
    for n in _project_models():
        if n["schema"] not in BI_FACING:
            continue
        plain += [f"{n['alias']}.{c}" for c in book.pii_columns(n["schema"], n["alias"], n["columns"], form="plain")]
        hashes |= {(n["alias"], c) for c in book.hashes(n["schema"], n["alias"], n["columns"])}
    assert not plain
    assert hashes == tested and len(hashes) == 3  # dim_customers: name, email, phone


def test_restricted_holds_the_contracts_customer_personal_data_in_plain():
    book = roles(PROJECT_MANIFEST)
    cols = next(n["columns"] for n in _project_models() if n["alias"] == "restricted_customers")
    kinds = {book.role("restricted", "restricted_customers", c).pii for c in
             book.pii_columns("restricted", "restricted_customers", cols, form="plain")}
    customers = next(e for e in contract.ENTITIES if e.name == "customers")
    assert kinds == {c.name for c in customers.columns if c.pii}
