"""Odd but valid values the loader must keep untouched (`_truth/tricky_clean.csv`).

The tricks themselves come from the world (full-width phones, multi-line addresses, quotes in text ...)
and from the three special files (GBK customers, BOM products, CRLF tickets on day 1). This module
plants the one trick the world lacks (code values in another letter case) and finds examples of each
trick in a file that is about to be written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CJK = r"[\u4e00-\u9fff]"

# (entity, column, trick, row filter) searched in the day-1 files.
DAY1_TRICKS = (
    (
        "customers",
        "phone",
        "fullwidth_digits_phone",
        lambda d: d["phone"].str.contains("[０-９]", regex=True),
    ),
    ("customers", "phone", "plus86_dashed_phone", lambda d: d["phone"].str.startswith("+86 ")),
    ("customers", "phone", "area_code_parentheses_phone", lambda d: d["phone"].str.startswith("(")),
    (
        "customers",
        "address",
        "quoted_newline_and_comma",
        lambda d: d["address"].str.contains("\n", regex=False),
    ),
    ("customers", "name", "gbk_file_chinese_text", lambda d: d["name"].str.contains(CJK, regex=True)),
    ("customers", "email", "email_surrounding_whitespace", lambda d: d["email"].str.startswith(" ")),
    (
        "customers",
        "name",
        "fullwidth_or_spaced_name",
        lambda d: d["name"].str.contains("[\u3000\uff21-\uff5a]", regex=True),
    ),
    (
        "communications",
        "content",
        "quoted_newline_and_comma",
        lambda d: d["content"].str.contains(",\n", regex=False),
    ),
    (
        "communications",
        "content",
        "embedded_double_quote",
        lambda d: d["content"].str.contains('"', regex=False),
    ),
    (
        "service_tickets",
        "feedback_text",
        "crlf_file_quoted_newline",
        lambda d: d["feedback_text"].str.contains("\n", regex=False),
    ),
    ("service_tickets", "ticket_id", "crlf_file_row", lambda d: d["status"] == "closed"),
    ("behavior_events", "channel", "code_case_variant", lambda d: d["channel"].isin(CASE_VARIANTS)),
)
CASE_VARIANTS = ("App", "WEB", "Mini_Program")


def plant_code_variants(events: pd.DataFrame, rng: np.random.Generator) -> None:
    """A few day-1 behaviour events carry a channel in another letter case (valid: codes match lower(trim))."""
    idx = np.flatnonzero(events["_day"].to_numpy() == 1)
    pick = rng.choice(idx, size=min(5, len(idx)), replace=False)
    events.loc[pick, "channel"] = [CASE_VARIANTS[i % 3] for i in range(len(pick))]


def find(entity: str, day: int, clean: pd.DataFrame, rng: np.random.Generator) -> list[tuple[int, str, str]]:
    """(row position in `clean`, column, trick) examples for this file; empty when it has none."""
    if day != 1:
        return []
    ok = (
        ~clean["_release"].astype(bool).to_numpy() if "_release" in clean else np.ones(len(clean), dtype=bool)
    )
    if "_field_defect" in clean:
        ok &= (clean["_field_defect"] == "").to_numpy()
    out = []
    for name, column, trick, test in DAY1_TRICKS:
        if name != entity:
            continue
        hit = np.flatnonzero(test(clean).fillna(False).to_numpy(dtype=bool) & ok)
        if len(hit):
            out.append((int(rng.choice(hit)), column, trick))
    if entity == "products":
        out.append((0, "product_id", "bom_first_column"))
    return out
