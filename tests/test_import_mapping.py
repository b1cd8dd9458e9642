"""`crm-warehouse import`: the shipped HubSpot and Salesforce mappings on their sample exports, through the CLI.

Checks: the result is an extract folder the loader accepts (manifest rows + sha256, contract headers), every
source row is written or reported, converted values (dates, epoch ms, code maps, derived flags, first of a
list, non-ASCII text), a byte-identical re-import, the refusal to overwrite a different extract, mapping and
source errors that name the file and key path / column, crm.yml, and an end-to-end `crm-warehouse run` on
each imported folder that publishes the expected customers.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from orchestration import contract
from orchestration.importing import MAPPINGS_DIR
from orchestration.raw.landing import complete_extract_dates, read_extract
from tests.conftest import REPO, run_cli

FIXTURES = REPO / "tests" / "fixtures" / "imports"

# per sample: mapping, extract date (newest mapped event time), delivered entities, source file -> entity,
# rows the mapping leaves out on purpose (skip), code values it does not map, customers after the run
SAMPLES = {
    "hubspot": dict(
        date="2024-06-29",
        currency="USD",
        entities=["customers", "communications", "opportunities", "service_tickets"],
        files={"contacts.csv": "customers", "engagements.csv": "communications", "deals.csv": "opportunities",
               "tickets.csv": "service_tickets"},
        skipped={},
        unmapped={("communications", "channel"): "WHATSAPP", ("opportunities", "stage"): "Pilot Running"},
        quarantine={("communications", "unknown_code"): 1, ("opportunities", "unknown_code"): 1},
        customers=18,
    ),
    "salesforce": dict(
        date="2024-06-25",
        currency="EUR",
        entities=["customers", "sales_reps", "campaigns", "opportunities", "campaign_members", "service_tickets"],
        files={"Account.csv": "customers", "Contact.csv": "customers", "User.csv": "sales_reps",
               "Campaign.csv": "campaigns", "Opportunity.csv": "opportunities",
               "CampaignMember.csv": "campaign_members", "Case.csv": "service_tickets"},
        skipped={"Campaign.csv": 1},  # IsDeleted = true
        unmapped={("opportunities", "stage"): "On Hold", ("service_tickets", "priority"): "Critical"},
        quarantine={("opportunities", "unknown_code"): 1, ("service_tickets", "unknown_code"): 1,
                    ("campaign_members", "missing_key"): 1},  # a Lead-only member has no ContactId
        customers=15,  # 6 accounts + 10 contacts, one contact deleted in Salesforce
    ),
}


def _import(name: str, dest: Path, *extra: str, mapping: Path | None = None, src: Path | None = None,
            check: bool = True):
    return run_cli("import", "--mapping", str(mapping or MAPPINGS_DIR / f"{name}.yml"), str(src or FIXTURES / name),
                   str(dest), *extra, check=check)


def _records(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _error_line(proc) -> str:
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Each sample imported once into its own landing folder: name -> (landing, CLI output)."""
    out = {}
    for name in SAMPLES:
        dest = tmp_path_factory.mktemp(f"landing_{name}")
        out[name] = (dest, _import(name, dest).stderr)
    return out


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_import_is_an_extract_the_loader_accepts(imported, name):
    """Folder, manifest (rows, sha256), contract headers, crm.yml, default date, and row reconciliation."""
    dest, output = imported[name]
    sample = SAMPLES[name]
    day = date.fromisoformat(sample["date"])
    assert complete_extract_dates(dest) == [day]  # default --date: the newest mapped event time
    extract = read_extract(dest, day)
    assert [f.entity for f in extract.files] == sample["entities"]
    manifest = json.loads((dest / sample["date"] / contract.MANIFEST_NAME).read_text())
    assert manifest["extract_date"] == sample["date"]
    for item, f in zip(manifest["files"], extract.files, strict=True):
        assert set(item) == {"entity", "file", "rows", "encoding", "sha256"}
        assert f.expected_sha256 == hashlib.sha256(f.path.read_bytes()).hexdigest()
        rows = _records(f.path)
        assert f.expected_rows == len(rows)
        assert list(rows[0]) == contract.entity(f.entity).column_names

    # every source row is written, or left out by the mapping's skip (and reported)
    written = {f.entity: f.expected_rows for f in extract.files}
    expected: dict[str, int] = {}
    for file, entity in sample["files"].items():
        n = len(_records(FIXTURES / name / file))
        kept = n - sample["skipped"].get(file, 0)
        expected[entity] = expected.get(entity, 0) + kept
        skip_note = f", {sample['skipped'][file]} left out by skip" if file in sample["skipped"] else ""
        assert f"{file}: {n} row(s) -> {entity}: {kept} written{skip_note}" in output
    assert written == expected

    # unmapped code values are passed through (for the loader to quarantine) and reported
    for (entity, column), value in sample["unmapped"].items():
        assert value in [r[column] for r in _records(dest / sample["date"] / f"{entity}.csv")]
        assert re.search(rf"unmapped codes: {entity}\.{column}: 1 row\(s\) with '{re.escape(value)}'", output)

    site = yaml.safe_load((dest / "crm.yml").read_text())
    assert site["currency"] == sample["currency"] and site["entities"] == sample["entities"]


def test_hubspot_values_are_converted(imported):
    """Date formats, epoch ms, code maps, derived is_closed/is_won, first associated id, non-ASCII names."""
    day = imported["hubspot"][0] / SAMPLES["hubspot"]["date"]
    customers = {r["customer_id"]: r for r in _records(day / "customers.csv")}
    assert customers["1005"]["name"] == "Zoë Müller" and customers["1014"]["name"] == "Łukasz Wiśniewski"
    assert customers["1001"]["created_at"] == "2024-01-08 09:30:00"
    assert customers["1001"]["status"] == "active" and customers["1002"]["source"] == "ads"
    assert customers["1004"]["phone"] == ""  # an empty optional field stays empty
    assert (customers["1011"]["status"], customers["1011"]["source"]) == ("inactive", "ads")  # Other, Other Campaigns
    deals = {r["opportunity_id"]: r for r in _records(day / "opportunities.csv")}
    assert deals["5001"]["customer_id"] == "1001"  # "1001;1002": the first associated contact
    assert (deals["5006"]["stage"], deals["5006"]["is_closed"], deals["5006"]["is_won"]) == ("closed_won", "true", "true")
    assert (deals["5007"]["stage"], deals["5007"]["is_closed"], deals["5007"]["is_won"]) == ("closed_lost", "true", "false")
    assert (deals["5001"]["is_closed"], deals["5004"]["amount"]) == ("false", "")
    assert deals["5001"]["close_date"] == "2024-03-17"
    comms = {r["communication_id"]: r for r in _records(day / "communications.csv")}
    assert comms["9001"]["occurred_at"] == "2024-03-01 09:15:00"  # epoch milliseconds, UTC
    assert (comms["9002"]["channel"], comms["9002"]["outcome"]) == ("phone", "completed")
    assert comms["9005"]["content"] == "Follow-up on pricing,\nsee attached quote"
    tickets = {r["ticket_id"]: r for r in _records(day / "service_tickets.csv")}
    assert tickets["7002"]["first_response_at"] == "2024-04-08 14:05:00"  # 04/08/2024 02:05 PM
    assert (tickets["7004"]["status"], tickets["7004"]["channel"], tickets["7004"]["category"]) == \
        ("closed", "web", "delivery")


def test_salesforce_values_are_converted(imported):
    """Two files feed customers, ISO-Z timestamps, first non-empty of two columns, booleans, skip."""
    day = imported["salesforce"][0] / SAMPLES["salesforce"]["date"]
    customers = {r["customer_id"]: r for r in _records(day / "customers.csv")}
    account, contact = customers["0015g0000000001AAA"], customers["0035g0000000002AAA"]
    assert (account["name"], account["customer_type"]) == ("Müller & Söhne GmbH", "company")
    assert (contact["name"], contact["customer_type"]) == ("François Lefèvre", "individual")
    assert account["updated_at"] == "2024-06-10 16:30:00"  # 2024-06-10T16:30:00.000Z
    assert contact["phone"] == "+49 151 5550 301" and contact["birth_date"] == ""  # mobile first; empty birthdate
    assert customers["0035g0000000009AAA"]["is_deleted"] == "true"
    campaigns = _records(day / "campaigns.csv")
    assert "Old Banner Test" not in [c["name"] for c in campaigns]  # IsDeleted: left out by skip
    tickets = {r["ticket_id"]: r for r in _records(day / "service_tickets.csv")}
    assert tickets["5005g0000000003AAA"]["customer_id"] == "0015g0000000003AAA"  # no contact: the account
    assert tickets["5005g0000000001AAA"]["feedback_text"] == "Rechnung doppelt erhalten.\nBitte prüfen."
    reps = _records(day / "sales_reps.csv")
    assert reps[0] == {"rep_id": "0055g0000000001AAA", "name": "Anna Schmidt", "region": "DACH", "team": "Sales",
                       "hired_at": "2021-03-01"}


@pytest.mark.parametrize("name", SAMPLES)
def test_reimport_is_byte_identical(imported, tmp_path, name):
    """Importing the same export again (same or a fresh DEST) gives the same bytes and changes nothing."""
    dest, _ = imported[name]
    before = _tree_bytes(dest)
    again = _import(name, dest)
    assert "unchanged (identical)" in again.stderr
    assert _tree_bytes(dest) == before
    _import(name, tmp_path / "fresh")
    assert _tree_bytes(tmp_path / "fresh") == before


def test_different_export_for_the_same_date_needs_replace(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "hubspot", src)
    dest = tmp_path / "landing"
    _import("hubspot", dest, src=src)
    day = dest / SAMPLES["hubspot"]["date"]
    before = _tree_bytes(day)
    text = (src / "deals.csv").read_text(encoding="utf-8").replace("1500.00", "1600.00")
    (src / "deals.csv").write_text(text, encoding="utf-8")
    line = _error_line(_import("hubspot", dest, "--date", SAMPLES["hubspot"]["date"], src=src, check=False))
    assert str(day) in line and "opportunities.csv" in line and "--replace" in line
    assert _tree_bytes(day) == before  # untouched
    replaced = _import("hubspot", dest, "--replace", src=src)
    assert "replaced" in replaced.stderr
    assert "1600.00" in (day / "opportunities.csv").read_text()
    read_extract(dest, date.fromisoformat(SAMPLES["hubspot"]["date"]))  # still a valid extract


def test_explicit_date_and_existing_site_config_are_kept(tmp_path):
    dest = tmp_path / "landing"
    dest.mkdir()
    (dest / "crm.yml").write_text("site: acme-eu\nml:\n  campaign_outcomes: [conversion]\n", encoding="utf-8")
    _import("salesforce", dest, "--date", "2024-07-01")
    assert complete_extract_dates(dest) == [date(2024, 7, 1)]
    site = yaml.safe_load((dest / "crm.yml").read_text())
    assert site["site"] == "acme-eu" and site["ml"] == {"campaign_outcomes": ["conversion"]}
    assert site["currency"] == "EUR" and "campaign_members" in site["entities"]
    # one landing folder is one site: a USD export cannot join a EUR site
    line = _error_line(_import("hubspot", dest, check=False))
    assert "crm.yml" in line and "EUR" in line and "USD" in line


def _bad_mapping(tmp_path: Path, old: str, new: str) -> Path:
    text = (MAPPINGS_DIR / "hubspot.yml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "mapping.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("      email: Email\n", "      e_mail: Email\n", "entities.customers.columns.e_mail: unknown contract column"),
        ("      city: City\n", "", "entities.customers.columns: contract column(s) city not mapped"),
        # occupation is optional in the contract: a mapping may leave it out (loaded as NULL)
        ("          Closed Won: closed_won\n", "          Closed Won: won\n",
         "entities.opportunities.columns.stage.codes.Closed Won: 'won' is not a stage code"),
        ("  service_tickets:\n", "  tickets:\n", "entities.tickets: unknown contract entity"),
        ("currency: USD\n", "currency: DOLLAR\n", "currency: 'DOLLAR' is not an ISO 4217 currency code"),
        ("      amount: Amount\n", "      amount: {from: Amount, format: '%Y'}\n",
         "entities.opportunities.columns.amount.format: format only applies to DATE and TIMESTAMP columns"),
        ("      customer_type: {value: individual}\n", "      customer_type: {value: person}\n",
         "entities.customers.columns.customer_type.value: 'person' is not a customer_type code"),
        ("      ticket_id: Ticket ID\n", "      ticket_id: ~\n",
         "entities.service_tickets.columns.ticket_id: a key column cannot be empty"),
        ("      is_won: {derive_from: stage,", "      is_won: {derive_from: stages,",
         "entities.opportunities.columns.is_won.derive_from: expected another contract column"),
        ("      subject: Subject\n", "      subject: {from: Subject, colour: red}\n",
         "entities.communications.columns.subject.colour: unknown key"),
        ("      city: City\n", "      city: City\n      city: Town\n", "duplicate key 'city'"),
    ],
)
def test_mapping_error_names_file_and_key_path(tmp_path, old, new, expected):
    mapping = _bad_mapping(tmp_path, old, new)
    line = _error_line(_import("hubspot", tmp_path / "landing", mapping=mapping, check=False))
    assert f"{mapping}: " in line and expected in line, line
    assert not (tmp_path / "landing").exists()  # nothing written


def test_missing_source_column_or_file_names_the_file(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "hubspot", src)
    rows = list(csv.reader((src / "deals.csv").open(encoding="utf-8", newline="")))
    idx = rows[0].index("Deal Stage")
    with (src / "deals.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([r[:idx] + r[idx + 1:] for r in rows])
    line = _error_line(_import("hubspot", tmp_path / "landing", src=src, check=False))
    assert f"{src / 'deals.csv'}: line 1: column 'Deal Stage' is not in the header" in line
    assert "entities.opportunities.columns.stage" in line

    (src / "tickets.csv").unlink()
    shutil.copy(FIXTURES / "hubspot" / "deals.csv", src / "deals.csv")
    line = _error_line(_import("hubspot", tmp_path / "landing", src=src, check=False))
    assert f"{src / 'tickets.csv'}: source file not found" in line and "entities.service_tickets.file" in line
    assert not (tmp_path / "landing").exists()


def test_unreadable_source_rows_are_reported_not_lost(tmp_path):
    """A record with the wrong number of fields is not written but counted, with its line number."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "hubspot", src)
    with (src / "tickets.csv").open("a", encoding="utf-8") as fh:
        fh.write("7999,Broken ticket,New\n")
    proc = _import("hubspot", tmp_path / "landing", src=src)
    assert "tickets.csv: 11 row(s) -> service_tickets: 10 written, 1 unreadable (line 12), not written" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_imported_export_runs_and_publishes(imported, tmp_path, name):
    """`crm-warehouse run` on the imported folder publishes; customers and quarantine are as planted."""
    dest, _ = imported[name]
    landing = tmp_path / "landing"
    shutil.copytree(dest, landing)
    warehouse = tmp_path / "warehouse"
    run_cli("run", "--landing", str(landing), "--warehouse", str(warehouse), env={"CRM_LANDING_DIR": str(landing)})
    with duckdb.connect(str(warehouse / "crm.duckdb"), read_only=True) as con:
        customers = con.execute("SELECT count(*) FROM marts.dim_customers").fetchone()[0]
        quarantine = dict(((e, r), n) for e, r, n in con.execute(
            "SELECT entity, reason, count(*) FROM ops.quarantine GROUP BY 1, 2").fetchall())
        audit = con.execute("SELECT entity, rows_in_file, rows_loaded + rows_quarantined FROM ops.load_audit").fetchall()
    assert customers == SAMPLES[name]["customers"]
    assert quarantine == SAMPLES[name]["quarantine"]
    assert sorted(e for e, _, _ in audit) == sorted(SAMPLES[name]["entities"])
    assert all(rows == total for _, rows, total in audit)
