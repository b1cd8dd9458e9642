"""Shared plumbing for the generator: the extract calendar, seeded random streams and id formatting.

Internally every id is an int64 (-1 = NULL) and every time a numpy datetime64[s]; the text form
(`C00000042`, `2025-06-24 08:15:00`) is produced only when a file is written (see `writer.py`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from orchestration import contract as c

from . import FIRST_EXTRACT_OFFSET_DAYS

DAY = np.timedelta64(1, "D").astype("timedelta64[s]")
SECOND = np.timedelta64(1, "s")
NAT = np.datetime64("NaT", "s")

ID_WIDTH = 8
# One letter per entity that owns single-column ids; foreign keys reuse the parent's letter.
ID_PREFIX: dict[str, str] = {
    "customers": "C",
    "products": "P",
    "sales_reps": "R",
    "campaigns": "K",
    "communications": "M",
    "behavior_events": "E",
    "orders": "O",
    "opportunities": "Y",
    "service_tickets": "T",
}
AGENT_PREFIX = "A"  # service_tickets.agent_id: a support agent, not a contract entity
DIRTY_ID_BASE = 90_000_000  # fresh keys of injected dirty rows (never used by a real row)
ORPHAN_ID_BASE = 80_000_000  # parents that never exist (permanent orphans)
# Above scale 20 real ids (behaviour events: ~2.5 M per unit of scale) could reach the bases above.
LARGE_RUN_SCALE, LARGE_DIRTY_ID_BASE, LARGE_ORPHAN_ID_BASE = 20, 90 * 10**9, 80 * 10**9


def fresh_id_bases(scale: float) -> tuple[int, int]:
    """(dirty, orphan) id bases of a run: above every real id the run can have."""
    if scale <= LARGE_RUN_SCALE:
        return DIRTY_ID_BASE, ORPHAN_ID_BASE
    return LARGE_DIRTY_ID_BASE, LARGE_ORPHAN_ID_BASE


def rng_stream(seed: int, name: str) -> np.random.Generator:
    """An independent, reproducible random stream for one part of the generator.

    Streams are keyed by name (crc32, not Python's salted hash) so adding draws in one module never
    shifts the numbers another module sees.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(name.encode())])))


def fmt_id(prefix: str, n: int) -> str:
    """Text form of one id, identical to the SQL in `writer.py`."""
    return f"{prefix}{int(n):0{ID_WIDTH}d}"


def fmt_ids(prefix: str, ids: np.ndarray) -> np.ndarray:
    """Vectorised `fmt_id` (object array of str)."""
    digits = np.strings.zfill(np.asarray(ids, dtype=np.int64).astype(str), ID_WIDTH)
    return np.strings.add(prefix, digits).astype(object)


def id_prefix(entity: c.Entity, column: str) -> str | None:
    """The id letter of an id column (an entity's own single-column key, a foreign key, agent_id), else None.

    Ids are ints internally (-1 = NULL) and get their letter only when written.
    """
    col = entity.column(column)
    if col.references:
        return ID_PREFIX[col.references]
    if column == "agent_id":
        return AGENT_PREFIX
    if entity.key == (column,) and entity.name in ID_PREFIX:
        return ID_PREFIX[entity.name]
    return None


def fmt_ts(ts: np.datetime64) -> str:
    """`YYYY-MM-DD HH:MM:SS` of one timestamp."""
    return str(np.datetime64(ts, "s")).replace("T", " ")


@dataclass(frozen=True)
class Calendar:
    """The extract calendar: history from `start`, extract day k on `day1 + k - 1`, `days` extracts."""

    start: date
    days: int

    @property
    def day1(self) -> date:
        return self.start + timedelta(days=FIRST_EXTRACT_OFFSET_DAYS)

    def extract_date(self, k: int) -> date:
        return self.day1 + timedelta(days=k - 1)

    @property
    def extract_dates(self) -> list[date]:
        return [self.extract_date(k) for k in range(1, self.days + 1)]

    @property
    def t0(self) -> np.datetime64:
        """History start (midnight of `start`)."""
        return np.datetime64(self.start, "s")

    def day_start(self, k: int) -> np.datetime64:
        return np.datetime64(self.extract_date(k), "s")

    def day_end(self, k: int) -> np.datetime64:
        """Exclusive end of extract day k (midnight after it): event times of extract k are < this."""
        return self.day_start(k) + DAY

    @property
    def end(self) -> np.datetime64:
        """Exclusive end of the whole timeline (end of the last extract day)."""
        return self.day_end(self.days)

    def day_of(self, ts: np.ndarray) -> np.ndarray:
        """Extract day that naturally delivers an event at `ts` (everything up to day 1 is history)."""
        k = (np.asarray(ts, dtype="datetime64[s]") - self.day_start(1)) // DAY + 1
        return np.maximum(k, 1).astype(np.int64)


def uniform_times(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """One uniform timestamp in [lo, hi) per element (datetime64[s] arrays)."""
    span = np.maximum((hi - lo).astype(np.int64), 1)
    return lo + (rng.random(len(span)) * span).astype(np.int64).astype("timedelta64[s]")


def seconds(x: np.ndarray | float) -> np.ndarray:
    """Seconds (float or int array) as timedelta64[s]."""
    return np.asarray(np.round(x), dtype=np.int64).astype("timedelta64[s]")


def choice(
    rng: np.random.Generator, values: tuple | list, n: int, p: tuple | list | None = None
) -> np.ndarray:
    """n draws from `values` (object array), optional probabilities normalised to 1."""
    arr = np.array(values, dtype=object)
    if p is not None:
        p = np.asarray(p, dtype=float)
        p = p / p.sum()
    return arr[rng.choice(len(arr), size=n, p=p)]
