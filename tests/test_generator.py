"""The synthetic extract generator: layout, manifests, determinism and the planted ground truth.

One extract (scale 0.01, 2 days) is generated per variant, plus a second one with the same arguments to
prove the output is byte-identical. Dirty rows are re-checked against the raw records with Python's csv
module, so the truth cannot drift from what the files really contain. Every test runs on two variants:
the run in one customer block (as every scale up to `BLOCK_CUSTOMERS` is) and the same run cut into 4
blocks (as large scales are), so the block path is checked on files small enough to re-read.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.generator import DEFAULT_START_DATE, GENERIC_EMAIL_LOCAL_PARTS, blocks, first_extract_date
from bench.generator.identity import is_generic_email, normalise_email, normalise_name, normalise_phone
from bench.generator.main import generate
from orchestration import contract as c

SCALE, SEED, DAYS = 0.01, 11, 2
BLOCK_SIZES = {"one_block": blocks.BLOCK_CUSTOMERS, "four_blocks": 250}  # scale 0.01 = 1 000 customers
TRUTH_FILES = (
    "dirty_rows",
    "dirty_fields",
    "tricky_clean",
    "segments",
    "churn_hazard",
    "duplicates",
    "campaign_effects",
    "uplift",
    "expected_totals",
)


def _generate(path: Path, block_customers: int, scale: float = SCALE) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(blocks, "BLOCK_CUSTOMERS", block_customers)
        generate(path, scale, SEED, days=DAYS)


@pytest.fixture(scope="module", params=sorted(BLOCK_SIZES))
def block_customers(request) -> int:
    return BLOCK_SIZES[request.param]


@pytest.fixture(scope="module")
def out(tmp_path_factory, block_customers) -> Path:
    path = tmp_path_factory.mktemp("gen") / "extract"
    _generate(path, block_customers)
    return path


@pytest.fixture(scope="module")
def truth(out):
    return {
        name: pd.read_csv(out / "_truth" / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in TRUTH_FILES
    }


def _records(out: Path, rel: str) -> tuple[list[str], list[list[str]]]:
    """Header and data records of one file, decoded with the encoding its manifest declares."""
    day, name = rel.split("/")
    manifest = json.loads((out / day / c.MANIFEST_NAME).read_text())
    encoding = next(f["encoding"] for f in manifest["files"] if f["file"] == name)
    text = (out / rel).read_bytes().decode("utf-8-sig" if encoding == "utf-8" else encoding)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def _record(out: Path, rel: str, line: int) -> dict[str, str] | list[str]:
    header, rows = _records(out, rel)
    rec = rows[line - 2]
    return dict(zip(header, rec, strict=True)) if len(rec) == len(header) else rec


def test_first_extract_date_is_documented():
    assert first_extract_date(DEFAULT_START_DATE) == date(2025, 6, 24)
    assert {"info", "sales", "contact"} <= set(GENERIC_EMAIL_LOCAL_PARTS)


def test_same_seed_gives_identical_bytes(out, tmp_path, block_customers):
    again = tmp_path / "again"
    _generate(again, block_customers)
    first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_layout_manifest_and_truth_files(out):
    days = sorted(p.name for p in out.iterdir() if p.name[:1].isdigit())
    assert days == [(first_extract_date() + timedelta(days=k)).isoformat() for k in range(DAYS)]
    for day in days:
        manifest = json.loads((out / day / c.MANIFEST_NAME).read_text())
        assert manifest["extract_date"] == day
        assert [f["entity"] for f in manifest["files"]] == [e for e in c.LOAD_ORDER if e not in c.OPTIONAL_ENTITIES]
        for f in manifest["files"]:
            header, rows = _records(out, f"{day}/{f['file']}")
            assert sorted(header) == sorted(c.entity(f["entity"]).column_names)
            assert f["rows"] == len(rows), f
    for name in TRUTH_FILES:
        assert (out / "_truth" / f"{name}.csv").is_file()


def test_special_files_on_day_one(out):
    day = first_extract_date().isoformat()
    (out / day / "customers.csv").read_bytes().decode("gbk")
    assert (out / day / "products.csv").read_bytes().startswith(b"\xef\xbb\xbfproduct_id,")
    assert b"\r\n" in (out / day / "service_tickets.csv").read_bytes()[:2000]
    assert (out / day / "orders.csv").read_bytes().count(b"\r\n") == 0


def test_every_reason_code_is_planted_on_day_one(truth):
    day1 = truth["dirty_rows"][truth["dirty_rows"]["file"].str.startswith(first_extract_date().isoformat())]
    assert set(day1["defect"]) == set(c.REASON_PRECEDENCE)
    assert set(truth["dirty_fields"]["defect"]) == set(c.FIELD_REASONS)
    late = truth["dirty_rows"][truth["dirty_rows"]["released_on"] != ""]
    assert len(late) and set(late["defect"]) == {c.ORPHAN_FK}


def _has_defect(entity: c.Entity, rec, defect: str, column: str, extract: date) -> bool:
    """Does this raw record really carry `defect` in `column`?"""
    if defect == c.WRONG_COLUMN_COUNT:
        return isinstance(rec, list)
    if defect == c.CONFLICTING_DUPLICATE_KEY:
        return isinstance(rec, dict)
    value = rec[column]
    col = entity.column(column)
    if defect == c.UNPARSEABLE_VALUE:
        return not re.fullmatch(r"-?\d+(\.\d+)?|true|false", value)
    if defect == c.BAD_DATE:
        fmt = "%Y-%m-%d" if col.type == c.DATE else "%Y-%m-%d %H:%M:%S"
        try:
            datetime.strptime(value, fmt)
        except ValueError:
            return True
        return False
    if defect == c.MISSING_KEY:
        return column in entity.key and value == ""
    if defect == c.UNKNOWN_CODE:
        return value.strip().lower() not in {v.lower() for v in col.codes}
    if defect == c.NEGATIVE_AMOUNT:
        return col.non_negative and float(value) < 0
    if defect == c.OUT_OF_RANGE:
        return not (col.low <= float(value) <= col.high)
    if defect == c.FUTURE_TIMESTAMP:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S") >= datetime.combine(
            extract + timedelta(days=1), datetime.min.time()
        )
    if defect == c.ORPHAN_FK:
        return bool(value) and col.references is not None
    raise AssertionError(defect)


def test_dirty_rows_point_at_records_with_that_defect(out, truth):
    dirty = truth["dirty_rows"]
    cache: dict[str, tuple] = {}
    for row in dirty.itertuples(index=False):
        if row.file not in cache:
            cache[row.file] = _records(out, row.file)
        header, rows = cache[row.file]
        rec = rows[int(row.line) - 2]
        rec = dict(zip(header, rec, strict=True)) if len(rec) == len(header) else rec
        extract = date.fromisoformat(row.file.split("/")[0])
        assert _has_defect(c.entity(row.entity), rec, row.defect, row.column, extract), row
    dups = dirty[dirty["defect"] == c.CONFLICTING_DUPLICATE_KEY]
    for file, group in dups.groupby("file"):
        entity = c.entity(group["entity"].iloc[0])
        keys = [tuple(_record(out, file, int(line))[k] for k in entity.key) for line in group["line"]]
        assert all(keys.count(k) >= 2 for k in keys), file


def test_field_defects_and_tricky_values(out, truth):
    for row in truth["dirty_fields"].itertuples(index=False):
        rec = _record(out, row.file, int(row.line))
        assert rec["customer_id"] == row.key
        value = rec[row.column]
        if row.defect == c.INVALID_EMAIL:
            assert not re.fullmatch(c.EMAIL_PATTERN, value.strip())
        elif row.defect == c.INVALID_PHONE:
            folded = re.sub(r"[\s\-.()]", "", unicodedata.normalize("NFKC", value))
            assert not re.fullmatch(c.PHONE_PATTERN, folded)
        else:
            assert value < c.MIN_BIRTH_DATE or value > row.file.split("/")[0]
    tricky = truth["tricky_clean"]
    assert len(tricky) >= 10
    for row in tricky.itertuples(index=False):
        assert _record(out, row.file, int(row.line))[row.column] == row.value, row
    assert {"bom_first_column", "crlf_file_row", "gbk_file_chinese_text", "fullwidth_digits_phone"} <= set(
        tricky["trick"]
    )


def test_campaigns_have_members_and_truth(out, truth):
    effects = truth["campaign_effects"]
    campaigns = effects["campaign_id"].unique()
    assert len(campaigns) >= 12
    assert (effects.groupby("campaign_id")["outcome"].apply(set) == {"conversion", "revenue"}).all()
    uplift = truth["uplift"]
    assert (uplift.groupby("campaign_id").size() >= 300).all()
    conversion = effects[effects["outcome"] == "conversion"]
    assert (conversion["true_effect"].astype(float) == 0).mean() >= 0.25
    assert set(conversion["design"]) == {"randomised", "observational"}
    assert set(conversion["estimand"]) == {"ate", "att"}
    day1 = first_extract_date().isoformat()
    header, rows = _records(out, f"{day1}/campaign_members.csv")
    dirty = truth["dirty_rows"]  # planted damaged rows (any defect, e.g. a bad date in clicked_at) are the
    planted = set(dirty.loc[dirty["file"] == f"{day1}/campaign_members.csv", "line"].astype(int))  # loader's job
    members = pd.DataFrame([r for i, r in enumerate(rows, 2) if i not in planted], columns=header)
    control = members[members["group"] == "control"]
    assert len(control) > 0
    assert (control[["sent_at", "opened_at", "clicked_at"]] == "").all().all()


def test_duplicates_cover_every_customer_and_match_the_rule(out, truth):
    dups, segments = truth["duplicates"], truth["segments"]
    records = []
    for path in sorted(out.glob("*/customers.csv")):
        header, rows = _records(out, f"{path.parent.name}/customers.csv")
        records += [dict(zip(header, r, strict=True)) for r in rows if len(r) == len(header)]
    customers = pd.DataFrame(records)
    customers = customers[customers["customer_id"].str.match(r"C0\d{7}$")].drop_duplicates(
        "customer_id", keep="last"
    )
    assert set(dups["customer_id"]) == set(customers["customer_id"]) == set(segments["customer_id"])
    assert dups["person_id"].nunique() < len(dups)
    # Link rows by the documented rule and compare the connected components with person_id.
    parent = {cid: cid for cid in customers["customer_id"]}

    def root(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    seen: dict[tuple, str] = {}
    for r in customers.itertuples(index=False):
        email = normalise_email(r.email)
        links = []
        if re.fullmatch(c.EMAIL_PATTERN, email) and not is_generic_email(email):
            links.append(("email", email))
        if len(normalise_phone(r.phone)) >= 7 and normalise_name(r.name):
            links.append(("phone+name", normalise_phone(r.phone), normalise_name(r.name)))
        for link in links:
            if link in seen:
                parent[root(r.customer_id)] = root(seen[link])
            else:
                seen[link] = r.customer_id
    person = dict(zip(dups["customer_id"], dups["person_id"], strict=True))
    groups: dict[str, set] = {}
    for cid in parent:
        groups.setdefault(root(cid), set()).add(person[cid])
    assert all(len(p) == 1 for p in groups.values())
    assert len(groups) == len({person[cid] for cid in parent})


def test_expected_totals_shape(truth):
    totals = truth["expected_totals"]
    metrics = set(totals["metric"])
    assert metrics == {
        "net_revenue",
        "units",
        "orders",
        "customers",
        "customers_dedup",
        "tickets",
        "campaign_members",
    }
    revenue = totals[totals["metric"] == "net_revenue"]
    assert revenue["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert revenue["value"].str.fullmatch(r"\d+\.\d{2}").all()


def test_churn_times_follow_the_planted_hazard(out, truth):
    """Every at_risk record has a planted relative risk (the documented formula of its drivers) and a churn
    time inside its window; its orders in the extracts really thin out after that time; and the sampler
    draws from the stated hazard: a maximum-likelihood fit of the truncated Weibull proportional hazard on
    50 000 draws recovers the base risk and both elasticities."""
    from scipy.optimize import minimize

    from bench.generator import segments as s

    hazard = truth["churn_hazard"]
    at_risk = truth["segments"].loc[truth["segments"]["true_segment"] == "at_risk", "customer_id"]
    assert sorted(hazard["customer_id"]) == sorted(at_risk) and len(hazard) > 100
    load, tenure = hazard["service_load"].astype(float), hazard["tenure_years"].astype(float)
    assert s.churn_relative_risk(load.to_numpy(), tenure.to_numpy()) == pytest.approx(
        hazard["relative_risk"].astype(float).to_numpy(), rel=1e-5)
    lo, hi, churned = (pd.to_datetime(hazard[col]) for col in ("window_start", "window_end", "churned_at"))
    assert ((lo <= churned) & (churned < hi)).all()
    window_end = pd.Timestamp(first_extract_date()) - pd.Timedelta(days=150)  # later only for late duplicates
    assert (hi == np.maximum(window_end, lo + pd.Timedelta(days=1))).all()

    header, rows = _records(out, f"{first_extract_date().isoformat()}/orders.csv")
    orders = pd.DataFrame([r for r in rows if len(r) == len(header)], columns=header)  # planted ragged rows out
    orders["order_date"] = pd.to_datetime(orders["order_date"], errors="coerce")  # planted bad dates: NaT
    when = orders.merge(hazard.assign(churned_at=churned), on="customer_id")
    before = (when["order_date"] < when["churned_at"]).sum() / (churned - lo).dt.days.sum()
    after = (when["order_date"] >= when["churned_at"]).sum() / (pd.Timestamp(first_extract_date()) - churned).dt.days.sum()
    assert after < 0.2 * before, (before, after)  # after churn an at_risk customer keeps AFTER_CHURN of its rates

    rng = np.random.default_rng(5)
    n, day = 50_000, np.timedelta64(1, "D").astype("timedelta64[s]")
    sim_load, sim_tenure = rng.lognormal(-0.1, 0.45, n), rng.uniform(0.3, 3.5, n)
    start = np.full(n, np.datetime64("2024-03-31T00:00:00"))
    width = rng.integers(150, 300, n)
    drawn = s.churn_times(rng.random(n), s.churn_relative_risk(sim_load, sim_tenure), start, start + width * day)
    t, x = (drawn - start) / day, np.column_stack([np.ones(n), np.log(sim_load), -np.log(sim_tenure)])
    k, scale = s.CHURN_SHAPE, s.CHURN_SCALE_DAYS

    def minus_log_likelihood(beta):
        risk = np.exp(x @ beta)
        log_hazard = np.log(risk * k / scale) + (k - 1) * np.log(t / scale)
        return -(log_hazard - s.cumulative_hazard(risk, t) - np.log(-np.expm1(-s.cumulative_hazard(risk, width)))).sum()

    fit = minimize(minus_log_likelihood, np.array([0.5, 1.0, 0.5]), method="BFGS").x
    # standard errors at this n (numerical Hessian, measured): 0.05 base, 0.07 service, 0.04 tenure
    assert fit == pytest.approx([np.log(s.CHURN_BASE_RISK), s.CHURN_SERVICE_ELASTICITY,
                                 s.CHURN_TENURE_ELASTICITY], abs=0.25), fit


def test_memory_is_bounded_by_the_block_not_the_scale(tmp_path, monkeypatch):
    """Triple the scale at a fixed block size: three times the rows are written, but the most rows any
    block holds (its world's frames) and the largest chunk written stay the same (no timing, no RSS)."""
    from bench.generator import main as gen

    held: list[int] = []
    chunks: list[int] = []
    build_world, write = gen.build_world, gen.Writer.write

    def spy_world(*args, **kwargs):
        world = build_world(*args, **kwargs)
        held.append(sum(len(v) for v in vars(world).values() if isinstance(v, pd.DataFrame)))
        return world

    def spy_write(self, entity, path, clean, *args, **kwargs):
        chunks.append(len(clean))
        return write(self, entity, path, clean, *args, **kwargs)

    monkeypatch.setattr(gen, "build_world", spy_world)
    monkeypatch.setattr(gen.Writer, "write", spy_write)
    monkeypatch.setattr(blocks, "BLOCK_CUSTOMERS", 500)
    peak, written = {}, {}
    for scale in (0.01, 0.03):
        held.clear()
        chunks.clear()
        result = generate(tmp_path / str(scale), scale, SEED, days=DAYS)
        written[scale] = sum(result.row_counts.values())
        peak[scale] = (len(held), max(held), max(chunks))
    assert peak[0.01][0] == 2 and peak[0.03][0] == 6  # blocks of 500 customers
    assert written[0.03] > 2.5 * written[0.01]
    assert peak[0.03][1] < 1.3 * peak[0.01][1], peak  # rows held by one block
    assert peak[0.03][2] < 1.3 * peak[0.01][2], peak  # largest chunk handed to the writer


def test_the_dagster_code_location_does_not_ship_the_generator():
    """The generator is test/demo/bench tooling (bench/generator/): loading the production definitions must
    not import it, and no production module may name it except the CLI's `generate` and `demo` commands."""
    import subprocess
    import sys

    probe = ("import sys, orchestration.definitions; "
             "print(sorted(m for m in sys.modules if m == 'bench' or m.startswith('bench.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    assert out == "[]", f"orchestration.definitions imports the generator/bench: {out}"
    root = Path(__file__).resolve().parents[1] / "orchestration"
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "bench.generator" in p.read_text())
    assert users == ["cli.py"], users
