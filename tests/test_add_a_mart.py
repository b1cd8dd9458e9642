"""Adding a mart is the recipe of docs/architecture.md ("Add a mart"), nothing more (issue 15, acceptance 2).

A temporary copy of dbt_project/ gets a throw-away mart in the places the recipe names (its SQL file in
models/marts/<domain>/, its entry in that folder's _<domain>__models.yml; the third place, docs/metrics.md,
is checked by tests/test_metrics_doc.py on the repo's own project only). `crm-warehouse run` with
CRM_DBT_PROJECT_DIR pointing at the copy parses it (no target/ in the copy), builds it, runs its dbt tests
and the `has_rows` gate as Dagster asset checks, and publishes it (serving DuckDB file and Parquet) with its
descriptions as DuckDB comments. No Python list, publish list or report had to learn its name. Then a
failing data test on the mart fails the run and leaves the published warehouse as it was.

The landing is the session's generated one cut to a retail site (customers, orders and their lines with
the products and reps they point at), so a run is ~60 s on a busy 2-core machine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import REPO, run_cli
from sites import restrict_landing

MART = "fct_throwaway_customer_orders"
DOMAIN = "sales"
ENTITIES = ["customers", "orders", "order_items", "products", "sales_reps"]

# Place 1 of the recipe: the model's SQL, grain stated at the top, explicit columns with their types.
MART_SQL = """\
-- Orders and net revenue per resolved customer (a throw-away mart of tests/test_add_a_mart.py).
-- Grain: one row per master_customer_id with at least one order.
select
    cast(master_customer_id as varchar) as master_customer_id,
    cast(count(*) as bigint) as n_orders,
    cast(sum(net_revenue) as decimal(18, 2)) as net_revenue
from {{ ref('fct_orders') }}
where master_customer_id is not null
group by master_customer_id
"""

# Place 2 of the recipe: the model's entry in the domain's yml (description with the grain, meta rows_from,
# the contract, data tests, every column described).
MART_YML = f"""\
  - name: {MART}
    description: >
      Orders and net revenue per resolved customer. Grain: one row per master_customer_id with at
      least one order (fct_orders).
    config:
      meta:
        rows_from: [orders]  # entities its rows come from (orchestration/site_scope.py)
      contract:
        enforced: true
    data_tests:
      - value_ranges:
          name: {MART}_value_ranges
          arguments:
            ranges:
              n_orders: {{min: 1, rule: "a customer of this mart has an order"}}
              net_revenue: {{min: 0, rule: "revenue is not negative"}}
    columns:
      - name: master_customer_id
        config:
          meta: {{customer_key: master}}  # its role (orchestration/column_roles.py): forget deletes the row
        data_type: varchar
        description: "resolved master customer id (fct_orders.master_customer_id); key"
        constraints:
          - type: not_null
        data_tests:
          - not_null
          - unique
      - name: n_orders
        data_type: bigint
        description: "orders of the customer, any status (count)"
      - name: net_revenue
        data_type: decimal(18,2)
        description: "sum of fct_orders.net_revenue of the customer, in the site currency"

"""


def _add_mart(project: Path) -> None:
    """The recipe's two edits, the way a person makes them: a new SQL file, a new entry under `models:`."""
    folder = project / "models" / "marts" / DOMAIN
    (folder / f"{MART}.sql").write_text(MART_SQL, encoding="utf-8")
    yml = folder / f"_{DOMAIN}__models.yml"
    text = yml.read_text(encoding="utf-8")
    assert text.count("\nmodels:\n") == 1, yml
    yml.write_text(text.replace("\nmodels:\n", "\nmodels:\n" + MART_YML, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def added(landing, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("add_a_mart")
    project = root / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    _add_mart(project)
    site = restrict_landing(landing, root / "landing", ENTITIES, {"site": "add-a-mart"})
    warehouse = root / "warehouse"
    proc = run_cli("run", "--landing", str(site), "--warehouse", str(warehouse),
                   env={"CRM_DBT_PROJECT_DIR": str(project)})
    logs = sorted((warehouse / "logs").glob("run-*.log"))
    assert len(logs) == 1, proc.stdout
    return {"project": project, "landing": site, "warehouse": warehouse, "log": logs[0].read_text(encoding="utf-8"),
            "spec": yaml.safe_load(MART_YML)[0]}


def test_the_copy_was_parsed_and_the_repo_project_is_untouched(added: dict):
    """The run built the copy's manifest (it had no target/), which knows the mart; the repo's does not."""
    copy_nodes = json.loads((added["project"] / "target" / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    repo_nodes = json.loads((REPO / "dbt_project" / "target" / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    uid = f"model.crm_warehouse.{MART}"
    assert copy_nodes[uid]["schema"] == "marts" and copy_nodes[uid]["config"]["meta"]["rows_from"] == ["orders"]
    assert uid not in repo_nodes
    assert "dbt manifest missing" in added["log"]


def test_the_mart_is_built_from_the_orders_in_the_work_file(added: dict, landing: Path):
    """Its rows are fct_orders summed per customer (EXCEPT ALL empty both ways), and its revenue is the
    generator's planted net revenue to the cent."""
    with duckdb.connect(str(added["warehouse"] / "work" / "crm_work.duckdb"), read_only=True) as con:
        expected = ("SELECT master_customer_id, count(*), sum(net_revenue) FROM marts.fct_orders "
                    "WHERE master_customer_id IS NOT NULL GROUP BY 1")
        mart = f"SELECT master_customer_id, n_orders, net_revenue FROM marts.{MART}"  # MART: a constant
        assert con.execute(f"SELECT count(*) FROM ({mart} EXCEPT ALL {expected})").fetchone()[0] == 0
        assert con.execute(f"SELECT count(*) FROM ({expected} EXCEPT ALL {mart})").fetchone()[0] == 0
        rows, revenue = con.execute(f"SELECT count(*), CAST(sum(net_revenue) AS VARCHAR) FROM marts.{MART}").fetchone()
    truth = (landing / "_truth" / "expected_totals.csv").read_text(encoding="utf-8").splitlines()[1:]
    planted = sum(float(v) for m, _, v in (line.split(",") for line in truth) if m == "net_revenue")
    assert rows > 100
    assert revenue == f"{planted:.2f}"


def test_its_dbt_tests_and_the_has_rows_gate_ran_as_asset_checks(added: dict):
    """Every dbt test on the mart (from the copy's manifest) and the has_rows gate passed as Dagster asset
    checks of marts/<mart> in the run."""
    nodes = json.loads((added["project"] / "target" / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    tests = sorted(n["name"] for n in nodes.values()
                   if n["resource_type"] == "test" and n.get("attached_node") == f"model.crm_warehouse.{MART}")
    assert tests == sorted([f"{MART}_value_ranges", f"not_null_{MART}_master_customer_id",
                            f"unique_{MART}_master_customer_id"])
    log = added["log"]
    assert f"OK created sql table model marts.{MART}" in log
    for check in [*tests, "has_rows"]:
        assert f"Asset check '{check}' on 'marts/{MART}' passed." in log, check


def test_it_is_published_with_its_descriptions_as_comments(added: dict):
    """In the read-only serving file and its Parquet copy, with the yml's descriptions as DuckDB comments."""
    spec = added["spec"]
    warehouse = added["warehouse"]
    with duckdb.connect(str(warehouse / "crm.duckdb"), read_only=True) as con:
        rows = con.execute(f"SELECT count(*) FROM marts.{MART}").fetchone()[0]
        table_comment = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = 'marts' AND table_name = $t", {"t": MART}
        ).fetchone()[0]
        columns = dict(con.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = $t",
            {"t": MART},
        ).fetchall())
        logged = con.execute("SELECT row_count FROM ops.publish_log WHERE table_name = $t",
                             {"t": f"marts.{MART}"}).fetchall()
    assert rows > 100 and logged == [(rows,)]
    assert table_comment == spec["description"].strip()
    assert columns == {c["name"]: c["description"] for c in spec["columns"]}
    parquet = warehouse / "parquet" / "current" / "marts" / f"{MART}.parquet"
    with duckdb.connect() as con:  # a private connection: the module-level default one is shared by every test
        assert con.execute("SELECT count(*) FROM read_parquet($p)", {"p": str(parquet)}).fetchall()[0][0] == rows


# A data test that fails on the mart: no customer has a million orders.
FAILING_RULE = 'n_orders: {min: 1000000, rule: "a throw-away rule no customer meets"}'


@pytest.fixture(scope="module")
def blocked(added: dict, tmp_path_factory) -> dict:
    """The built warehouse (a copy) run again with the mart's value_ranges made to fail: a fresh copy of the
    project (no target/, so it is parsed again, as `make parse` would) and no new extract."""
    root = tmp_path_factory.mktemp("add_a_mart_blocked")
    project, warehouse = root / "dbt_project", root / "warehouse"
    shutil.copytree(added["project"], project, ignore=shutil.ignore_patterns("target", "logs"))
    yml = project / "models" / "marts" / DOMAIN / f"_{DOMAIN}__models.yml"
    text = yml.read_text(encoding="utf-8")
    rule = 'n_orders: {min: 1, rule: "a customer of this mart has an order"}'
    assert text.count(rule) == 1
    yml.write_text(text.replace(rule, FAILING_RULE), encoding="utf-8")
    shutil.copytree(added["warehouse"], warehouse, symlinks=True, ignore=shutil.ignore_patterns("*.lock", "logs"))
    before = (warehouse / "crm.duckdb").read_bytes()
    current = (warehouse / "parquet" / "current").readlink()
    proc = run_cli("run", "--landing", str(added["landing"]), "--warehouse", str(warehouse), check=False,
                   env={"CRM_DBT_PROJECT_DIR": str(project)})
    return {"proc": proc, "warehouse": warehouse, "before": before, "current": current}


def test_a_failing_data_test_on_the_mart_blocks_the_publish(blocked: dict):
    """The run fails naming the mart's failed test; the serving file and the Parquet link are unchanged."""
    proc, warehouse = blocked["proc"], blocked["warehouse"]
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert f"{MART}_value_ranges" in proc.stderr and "n_orders" in proc.stderr, proc.stderr[-2000:]
    assert "nothing was published" in proc.stderr
    assert (warehouse / "crm.duckdb").read_bytes() == blocked["before"]
    assert (warehouse / "parquet" / "current").readlink() == blocked["current"]
