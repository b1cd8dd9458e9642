"""Planted row defects: extra injected rows that the loader must quarantine with one exact reason code.

Every dirty row is a copy of a clean row of the same file (its template) with a FRESH key that no other
row references, carrying exactly one defect; apart from it the row is valid. A conflicting duplicate is
two such rows sharing one fresh key with different content. Which defects fit an entity follows from the
contract (a code column for unknown_code, a bounded column for out_of_range, ...).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from orchestration import contract as c

from .common import DIRTY_ID_BASE, ID_PREFIX, ORPHAN_ID_BASE, fmt_id, fmt_ts
from .writer import DirtyRow

GARBAGE = ("abc", "n/a?", "xyz", "tbd", "none!", "twelve")
BAD_DATES = ("2025-02-30", "31/12/2025", "yesterday", "2024-13-01", "2023-04-31")
BAD_TIMESTAMPS = (
    "2025-02-30 10:15:00",
    "31/12/2025 08:00:00",
    "yesterday",
    "2024-13-01 00:00:00",
    "2023-04-31 23:59:59",
)
BAD_CODES = ("fax", "pigeon", "telex", "other?", "n.a.", "carrier_pigeon")
NUMERIC = (c.INT, c.MONEY, c.RATE, c.BOOL)


def candidate_columns(entity: c.Entity, defect: str) -> list[str]:
    """Columns a defect can be planted in ('' for row-level defects); empty list = not applicable."""
    cols = [col for col in entity.columns if col.name not in entity.key]
    if defect in (c.WRONG_COLUMN_COUNT, c.CONFLICTING_DUPLICATE_KEY):
        return [""]
    if defect == c.MISSING_KEY:
        return list(entity.key)
    picks = {
        c.UNPARSEABLE_VALUE: [col.name for col in cols if col.type in NUMERIC],
        c.BAD_DATE: [col.name for col in cols if col.type in (c.DATE, c.TS)],
        c.UNKNOWN_CODE: [col.name for col in entity.columns if col.codes],
        c.NEGATIVE_AMOUNT: [col.name for col in entity.columns if col.non_negative],
        c.OUT_OF_RANGE: [col.name for col in entity.columns if col.low is not None or col.high is not None],
        c.FUTURE_TIMESTAMP: [col.name for col in entity.columns if col.event_time],
        c.ORPHAN_FK: [col.name for col in entity.columns if col.references],
    }
    return picks[defect]


def applicable(entity: c.Entity) -> list[str]:
    """Reason codes that fit this entity, in precedence order."""
    return [d for d in c.REASON_PRECEDENCE if candidate_columns(entity, d)]


class FreshKeys:
    """Fresh keys for injected rows and never-existing parents for orphans, unique over the whole run.

    One instance per customer block: `counter` continues from the previous block's, the key sets hold
    the block's own (its customers never meet another block's in a composite key)."""

    def __init__(
        self,
        rng: np.random.Generator,
        relationships: set,
        memberships: set,
        counter: int = 0,
        bases: tuple[int, int] = (DIRTY_ID_BASE, ORPHAN_ID_BASE),
    ) -> None:
        self.rng = rng
        self.counter = counter
        self.dirty_base, self.orphan_base = bases
        self.relationships = relationships  # (from, to, type) int ids already used
        self.memberships = memberships  # (campaign, customer) int ids already used
        self.customers: np.ndarray = np.zeros(
            0, dtype=np.int64
        )  # safe customer ids for the day being written
        self.orphans: dict[str, int] = {}  # orphan_fk rows planted so far per entity (their column takes turns)

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def orphan(self, parent: str) -> str:
        return fmt_id(ID_PREFIX[parent], self.orphan_base + self._next())

    def _customer(self) -> int:
        return int(self.customers[self.rng.integers(0, len(self.customers))])

    def assign(self, entity: c.Entity, row: dict) -> None:
        """Replace the key of `row` (in place) by one that exists nowhere else."""
        name, n = entity.name, self._next()
        if len(entity.key) == 1:
            row[entity.key[0]] = fmt_id(ID_PREFIX[name], self.dirty_base + n)
        elif name == "service_plans":
            row["valid_from"] = (date(2010, 1, 1) + timedelta(days=n)).isoformat()
        elif name == "sales_targets":
            row["period"] = f"{1990 + n // 12:04d}-{n % 12 + 1:02d}"
        elif name == "order_items":
            row["line_no"] = str(100 + n)
        elif name == "campaign_spend":
            row["date"] = (date(2015, 1, 1) + timedelta(days=n)).isoformat()
        elif name == "campaign_members":
            campaign = int(row["campaign_id"][1:])
            while (campaign, cust := self._customer()) in self.memberships:
                pass
            self.memberships.add((campaign, cust))
            row["customer_id"] = fmt_id(ID_PREFIX["customers"], cust)
        elif name == "customer_relationships":
            while True:
                a, b = self._customer(), self._customer()
                kind = row["relationship_type"]
                if a != b and (a, b, kind) not in self.relationships:
                    break
            self.relationships.add((a, b, kind))
            row["from_customer_id"] = fmt_id(ID_PREFIX["customers"], a)
            row["to_customer_id"] = fmt_id(ID_PREFIX["customers"], b)
        else:
            raise ValueError(f"no fresh-key rule for {name}")


def _value(
    entity: c.Entity, col: c.Column, defect: str, extract: date, rng: np.random.Generator, keys: FreshKeys
):
    if defect == c.UNPARSEABLE_VALUE:
        return str(rng.choice(GARBAGE))
    if defect == c.BAD_DATE:
        return str(rng.choice(BAD_DATES if col.type == c.DATE else BAD_TIMESTAMPS))
    if defect == c.MISSING_KEY:
        return None
    if defect == c.UNKNOWN_CODE:
        allowed = {v.lower() for v in col.codes}
        return str(rng.choice([v for v in BAD_CODES if v.lower() not in allowed]))
    if defect == c.NEGATIVE_AMOUNT:
        return f"-{rng.integers(1, 9)}" if col.type == c.INT else f"-{rng.integers(1, 50_000) / 100:.2f}"
    if defect == c.OUT_OF_RANGE:
        if col.type == c.INT:
            return str(rng.choice([int(col.low) - 1, int(col.high) + 1, int(col.high) + 4]))
        return f"{col.high * 1.3 if col.high else 1.5:.4f}"
    if defect == c.FUTURE_TIMESTAMP:
        start = np.datetime64(extract, "s") + np.timedelta64(86400 + int(rng.integers(0, 45 * 86400)), "s")
        return fmt_ts(start)
    if defect == c.ORPHAN_FK:
        return keys.orphan(col.references)
    raise ValueError(defect)


def make_dirty(
    entity: c.Entity,
    defect: str,
    templates: list[dict],
    extract: date,
    rng: np.random.Generator,
    keys: FreshKeys,
) -> list[DirtyRow]:
    """One dirty row (two for a conflicting duplicate) built from random templates of this file."""
    row = dict(templates[rng.integers(0, len(templates))])
    keys.assign(entity, row)
    if defect == c.CONFLICTING_DUPLICATE_KEY:
        twin = dict(templates[rng.integers(0, len(templates))])
        twin.update({k: row[k] for k in entity.key})
        if twin == row:
            _tweak(entity, twin)
        return [DirtyRow(row, defect), DirtyRow(twin, defect)]
    if defect == c.WRONG_COLUMN_COUNT:
        return [DirtyRow(row, defect, tail=str(rng.choice(["extra", "drop"])))]
    options = candidate_columns(entity, defect)
    if defect == c.FUTURE_TIMESTAMP:  # prefer a time the row actually has
        options = [o for o in options if row[o] is not None] or options
    if defect == c.ORPHAN_FK:  # every foreign key of the file in turn, so each gets its orphans
        planted = keys.orphans.get(entity.name, 0)
        keys.orphans[entity.name] = planted + 1
        column = options[planted % len(options)]
    else:
        column = str(rng.choice(options))
    row[column] = _value(entity, entity.column(column), defect, extract, rng, keys)
    return [DirtyRow(row, defect, column)]


def _tweak(entity: c.Entity, row: dict) -> None:
    """Make a duplicate's content differ without introducing a defect."""
    for col in entity.columns:
        if col.name not in entity.key and col.type == c.TEXT and not col.codes and row[col.name]:
            row[col.name] = row[col.name] + " (2)"
            return
    for col in entity.columns:
        if col.type == c.TS and row[col.name] and col.name not in entity.key:
            ts = np.datetime64(row[col.name].replace(" ", "T"), "s") - np.timedelta64(1, "s")
            row[col.name] = fmt_ts(ts)
            return
    raise ValueError(f"cannot make a different duplicate for {entity.name}")


def plan_defects(entity: c.Entity, n_clean: int, day: int, rng: np.random.Generator) -> list[str]:
    """Defect kinds to plant in one file: ~0.5 % of rows; on day 1 every applicable kind at least once, and
    an orphan for every foreign key of the file."""
    kinds = applicable(entity)
    target = int(round(0.005 * n_clean))
    if day == 1:
        plan = list(kinds) if (entity.kind == c.DELTA or n_clean >= 150) else [str(rng.choice(kinds))]
        if c.ORPHAN_FK in plan:
            plan += [c.ORPHAN_FK] * (len(candidate_columns(entity, c.ORPHAN_FK)) - 1)
    else:
        plan = [] if n_clean < 50 else [str(rng.choice(kinds))]
    while len(plan) < target:
        plan.append(str(rng.choice(kinds)))
    return plan
