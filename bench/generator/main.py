"""Public entry point: `generate(out_dir, scale, seed, days, start_date)` writes extracts + `_truth/`.

Layout: `<out>/<YYYY-MM-DD>/<entity>.csv` for every entity on every extract day, `_manifest.json` last
in each folder, and the ground truth in `<out>/_truth/`. Day 1 (`first_extract_date(start_date)`, i.e.
start_date + 540 days; 2025-06-24 by default) is the full history; later days are deltas (delta
entities) or full snapshots (snapshot entities). Same seed and arguments give byte-identical files.
Customers are generated block by block (`blocks.py`): each block appends to every file and is dropped.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from orchestration import contract as c

from . import DEFAULT_START_DATE
from .blocks import Offsets, advance, plan_blocks, shift_ids
from .catalog import build_sales_targets
from .common import Calendar, fresh_id_bases, rng_stream
from .defects import FreshKeys
from .delivery import changes_and_deletions, natural_versions, withhold_customers, withhold_orders
from .extracts import GENERATED_ENTITIES, ExtractWriter
from .service import agent_count
from .tricks import plant_code_variants
from .truth import TruthWriter
from .world import build_shared, build_world, sizes
from .writer import Writer


@dataclass
class GenerateResult:
    """What one `generate` call wrote."""

    out_dir: Path
    extract_dates: list[date]
    row_counts: dict[str, int]  # entity -> data records written over all days (dirty rows included)
    rows_per_day: dict[str, dict[str, int]] = field(default_factory=dict)  # YYYY-MM-DD -> entity -> records


def generate(
    out_dir: Path,
    scale: float,
    seed: int,
    days: int = 1,
    start_date: date = DEFAULT_START_DATE,
    progress: bool = False,
) -> GenerateResult:
    """Generate `days` nightly extracts (day 1 = full history) plus `_truth/` under `out_dir`.

    `scale` 1 is about 100 000 customers, 1 M order lines and 2 M behaviour events; cost is linear in it.
    Customers are generated in blocks (`blocks.py`), so memory depends on the block size, not the scale.
    """
    if scale <= 0 or days < 1:
        raise ValueError(f"scale must be > 0 and days >= 1 (got scale={scale}, days={days})")
    out_dir = Path(out_dir)
    cal = Calendar(start_date, days)
    blocks = plan_blocks(sizes(scale)["customers"], seed)
    bar = _progress(progress)
    with bar or nullcontext():
        per_block = 5 + days * len(GENERATED_ENTITIES)
        task = bar.add_task("generate", total=len(blocks) * per_block) if bar else None
        shared = build_shared(scale, seed, cal)
        frng = rng_stream(seed, "files")
        shuffled = c.ENTITIES[int(frng.integers(0, len(c.ENTITIES)))].name if days >= 2 else None
        writer = Writer()
        extracts = ExtractWriter(out_dir, cal.extract_dates, shared, writer, shuffled)
        truth = TruthWriter(out_dir)
        off, counter, per_day = Offsets(), 0, {}
        try:
            for block in blocks:
                label = f"block {block.index + 1}/{block.count} " if block.count > 1 else ""

                def step(name: str, label=label) -> None:
                    if bar:
                        bar.update(task, advance=1, description=label + name)

                world = build_world(scale, block, cal, shared, off, step)
                shift_ids(world, off)
                off = advance(off, world, agent_count(len(world.customers)))
                versions = _deliver(world, cal, block.seed, block.index)
                step("deliveries")
                keys = _fresh_keys(versions, block.seed, counter, scale)
                if block.last:
                    shared.sales_targets = build_sales_targets(shared.sales_reps, cal, seed, shared.rep_months)
                brng = frng if block.first else rng_stream(block.seed, "files")
                extracts.start_block(world, versions, keys, brng, block.last)
                for day in range(1, days + 1):
                    counts = extracts.write_day(day, step)
                    if counts is not None:
                        per_day[cal.extract_date(day).isoformat()] = counts
                extracts.end_block()
                counter = keys.counter
                truth.add_block(world.customers, versions, world)
                del world, versions, keys  # the next block starts from an empty heap
        finally:
            writer.close()
        rows = extracts.truth
        truth.finish(rows.dirty_rows, rows.dirty_fields, rows.tricky)
        write_site_file(out_dir)
    counts = {e.name: sum(day[e.name] for day in per_day.values()) for e in GENERATED_ENTITIES}
    return GenerateResult(out_dir, cal.extract_dates, counts, per_day)


def _deliver(world, cal: Calendar, seed: int, block: int) -> dict:
    """The row versions of every delta entity: natural days, late arrivals, tricks, changes, deletions."""
    rng = rng_stream(seed, "delivery")
    versions = natural_versions(world, cal, rng)
    withhold_customers(versions, cal, rng)
    withhold_orders(versions, cal, rng)
    plant_code_variants(versions["behavior_events"], rng)
    changes_and_deletions(versions, cal, seed, block)
    return versions


def _fresh_keys(versions: dict, seed: int, counter: int, scale: float) -> FreshKeys:
    rels, members = versions["customer_relationships"], versions["campaign_members"]
    return FreshKeys(
        rng_stream(seed, "fresh-keys"),
        set(zip(rels["from_customer_id"], rels["to_customer_id"], rels["relationship_type"], strict=True)),
        set(zip(members["campaign_id"], members["customer_id"], strict=True)),
        counter,
        fresh_id_bases(scale),
    )


#: `crm.yml` beside the extracts: the generated CRM is the reference full site (every module); its model
#: settings estimate campaign effects on the planted visit lift too (orchestration/site.py reads it).
SITE_FILE = """\
# Site configuration of the generated CRM (orchestration/site.py); written by `crm-warehouse generate`.
site: generated
currency: CNY
ml:
  campaign_outcomes: [conversion, revenue, visit]
"""


def write_site_file(out_dir: Path) -> None:
    """Write `<out>/crm.yml` (the generated site's configuration)."""
    (out_dir / "crm.yml").write_text(SITE_FILE, encoding="utf-8")


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<36}"), BarColumn(), TimeElapsedColumn())
