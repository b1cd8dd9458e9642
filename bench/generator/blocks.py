"""Customer blocks: how a run is cut so that memory stays bounded whatever the scale.

A run of N customers is generated as ceil(N / BLOCK_CUSTOMERS) blocks of about equal size, one after the
other: each block builds the customers of its share, their whole history (orders, events, tickets,
campaign memberships ...) and its row versions, appends its rows to every extract file, adds its truth
rows, and is dropped before the next block starts. Memory therefore follows the block size, not N.

What is shared by the blocks (built once, by block 0, from the run's seed and scale): the Faker pools,
the products, the sales reps, the service plans, the campaign plan (design, slot, lift of every campaign),
the campaigns snapshot and the campaign spend. The sales targets (planned from every rep's order history)
are built once all blocks are done. A block's customers only link to each other (households, referrals,
duplicates), so the planted truth of each block holds for the whole run; ids are numbered on from the
previous block (`Offsets`), emails and phones are drawn from disjoint ranges per block, so rows of two
blocks never look like the same person.

A run with one block is exactly the generator without blocks (same random draws in the same order),
so every scale up to BLOCK_CUSTOMERS customers gives the same bytes as before blocks existed. The block
size is a constant, not a setting: the output depends on the seed and the arguments only.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

BLOCK_CUSTOMERS = 50_000


@dataclass(frozen=True)
class Block:
    """One block of a run: its position, the run's block count, its customer target and its seed."""

    index: int
    count: int
    customers: int
    seed: int

    @property
    def first(self) -> bool:
        return self.index == 0

    @property
    def last(self) -> bool:
        return self.index == self.count - 1


ONE_BLOCK = Block(0, 1, 0, 0)  # the only block of a run that fits in one (customers/seed unused)


def block_seed(seed: int, index: int) -> int:
    """Block 0 uses the run's seed (so a one-block run is the run without blocks); others derive theirs."""
    if index == 0:
        return seed
    return int(np.random.SeedSequence([seed, zlib.crc32(b"block"), index]).generate_state(1)[0])


def plan_blocks(n_customers: int, seed: int) -> list[Block]:
    """Blocks of at most BLOCK_CUSTOMERS customers, sizes differing by at most one."""
    count = max(1, -(-n_customers // BLOCK_CUSTOMERS))
    base, extra = divmod(n_customers, count)
    return [Block(i, count, base + (i < extra), block_seed(seed, i)) for i in range(count)]


def part_range(high: int, block: Block, n: int) -> tuple[int, int]:
    """(offset, size) of block's share of the integer range [0, high) when n values are drawn from it.

    Blocks draw from disjoint sub-ranges when each one still leaves room (8 slots per value); otherwise
    every block uses the whole range (values of two blocks may then coincide)."""
    size = high // block.count
    if block.count == 1 or size < 8 * n:
        return 0, high
    return block.index * size, size


@dataclass
class Offsets:
    """Ids used by the blocks before this one: a block's ids are numbered from these on."""

    customer: int = 0
    person: int = 0
    communication: int = 0
    event: int = 0
    order: int = 0
    opportunity: int = 0
    ticket: int = 0
    agent: int = 0

    def any(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


def _shift(df: pd.DataFrame, column: str, by: int) -> None:
    if by and column in df:
        x = df[column].to_numpy()
        df[column] = np.where(x >= 0, x + by, x)  # -1 stays NULL


def shift_ids(world, off: Offsets) -> None:
    """Number the block's ids (and the foreign keys to them) on from `off` (in place)."""
    if not off.any():
        return
    c = off.customer
    _shift(world.customers, "customer_id", c)
    _shift(world.customers, "_person", off.person)
    for df in (world.relationships,):
        _shift(df, "from_customer_id", c)
        _shift(df, "to_customer_id", c)
    for df, key, by in (
        (world.communications, "communication_id", off.communication),
        (world.events, "event_id", off.event),
        (world.orders, "order_id", off.order),
        (world.opportunities, "opportunity_id", off.opportunity),
        (world.tickets, "ticket_id", off.ticket),
        (world.ticket_versions, "ticket_id", off.ticket),
    ):
        _shift(df, key, by)
        _shift(df, "customer_id", c)
    _shift(world.items, "order_id", off.order)
    _shift(world.members, "customer_id", c)
    for df in (world.tickets, world.ticket_versions):
        _shift(df, "agent_id", off.agent)


def advance(off: Offsets, world, agents: int) -> Offsets:
    """Offsets for the next block, from this block's (shifted) world."""
    return Offsets(
        customer=off.customer + len(world.customers),
        person=int(world.customers["_person"].max()),  # already numbered on from off.person
        communication=off.communication + len(world.communications),
        event=off.event + len(world.events),
        order=off.order + len(world.orders),
        opportunity=off.opportunity + len(world.opportunities),
        ticket=off.ticket + len(world.tickets),
        agent=off.agent + agents,
    )
