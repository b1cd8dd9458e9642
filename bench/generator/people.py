"""Persons and the customer rows exported for them: duplicates, look-alikes and field defects.

A person is exported once, or (about 3 % of persons) two or three times with cosmetic variants of the
same email, phone and name. Look-alikes that are different persons are planted on purpose: households
sharing a phone (different names), common names such as 王伟 (different emails and phones) and generic
role mailboxes such as info@163.com shared by different companies (different names and phones). The
rule in `identity.py` recovers `person_id` exactly.

About 0.5 % of singleton customers get one field defect (invalid email, invalid phone or impossible
birth date); these rows are real customers, the loader nulls the field and reports it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration import contract as c

from . import GENERIC_EMAIL_LOCAL_PARTS
from .blocks import ONE_BLOCK, Block, part_range
from .common import DAY, NAT, Calendar, choice, rng_stream, uniform_times
from .pools import COMMON_ZH_NAMES, EMAIL_DOMAINS, INTL_CITIES, SHARED_COMPANY_DOMAINS, ZH_CITIES, Pools
from .segments import AT_RISK, NEW, NEW_WINDOW_DAYS, PROFILES

DUPLICATE_PERSON_SHARE = 0.03
HOUSEHOLD_SHARE = 0.01  # persons whose phone is shared with another person of the household
FIELD_DEFECT_SHARE = 0.005
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_MOBILE_PREFIX = np.array(["13", "15", "17", "18", "19"])
_AREA_CODES = np.array(["010", "021", "020", "0755", "0571", "028", "023", "027"])

# Row roles (internal): which rows may change phone/email/name later or carry a field defect.
SINGLE, DUPLICATE, HOUSEHOLD = "single", "duplicate", "household"


def _unique_ints(rng: np.random.Generator, n: int, high: int) -> np.ndarray:
    """n distinct random ints in [0, high), in draw order (deterministic)."""
    draws = rng.integers(0, high, size=int(n * 1.2) + 16)
    _, first = np.unique(draws, return_index=True)
    out = draws[np.sort(first)]
    assert len(out) >= n, "not enough distinct values"
    return out[:n]


def _phones(rng: np.random.Generator, n: int, landline: np.ndarray, block: Block) -> np.ndarray:
    """Canonical phone digits: unique 11-digit mobiles, or area code + 8 digits for landlines.

    Each block draws from its own part of the number ranges, so phones are unique over the run too."""
    at, size = part_range(5 * 10**9, block, n)
    mob = _unique_ints(rng, n, size) + at
    mobile = np.strings.add(_MOBILE_PREFIX[mob // 10**9], np.strings.zfill((mob % 10**9).astype(str), 9))
    at, size = part_range(7 * 10**7, block, n)
    land = _unique_ints(rng, n, size) + at + 2 * 10**7
    area = _AREA_CODES[rng.integers(0, len(_AREA_CODES), n)]
    fixed = np.strings.add(area, land.astype(str))
    return np.where(landline, fixed, mobile).astype(object)


def display_phone(canonical: pd.Series, style: np.ndarray) -> np.ndarray:
    """Render canonical digits in a display style (object array, None when missing).

    Mobiles: 0 plain, 1 `+86 138-0013-8000`, 2 `138 0013 8000`, 3 full-width, 4 `138-0013-8000`.
    Landlines (leading 0): 0 plain, 1 `(010) 6552-1234`, 2 `010-65521234`; other styles fall back to plain.
    """
    s = canonical.to_numpy(dtype=object)
    out = s.copy()
    present = pd.notna(s)
    digits = np.where(present, s, "").astype(str)
    mobile = present & (np.strings.slice(digits, 0, 1) == "1")
    a, b, d = (np.strings.slice(digits, i, j).astype(object) for i, j in ((0, 3), (3, 7), (7, 11)))
    for k, text in (
        (1, "+86 " + a + "-" + b + "-" + d),
        (2, a + " " + b + " " + d),
        (4, a + "-" + b + "-" + d),
    ):
        hit = mobile & (style == k)
        out[hit] = text[hit]
    wide = mobile & (style == 3)
    out[wide] = pd.Series(digits[wide]).str.translate(_FULLWIDTH).to_numpy(dtype=object)
    land = present & ~mobile
    area_len = np.where(np.strings.startswith(digits, "010") | np.strings.startswith(digits, "02"), 3, 4)
    for k_len in (3, 4):
        sel = land & (area_len == k_len)
        area = np.strings.slice(digits, 0, k_len).astype(object)
        rest = np.strings.slice(digits, k_len, None).astype(object)
        head, tail = (
            np.strings.slice(rest.astype(str), 0, 4).astype(object),
            np.strings.slice(rest.astype(str), 4, None).astype(object),
        )
        paren = sel & (style == 1)
        out[paren] = ("(" + area + ") " + head + "-" + tail)[paren]
        dash = sel & (style == 2)
        out[dash] = (area + "-" + rest)[dash]
    return out


def _fullwidth_latin(s: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in s)


def _name_variant(name: str, latin: bool, k: int) -> str:
    """A cosmetic variant of a name that `identity.normalise_name` maps back to the same key."""
    if latin:
        return (name.upper(), name.replace(" ", "  "), _fullwidth_latin(name))[k % 3]
    if len(name) < 2:
        return name
    return (name[0] + " " + name[1:], name[0] + "\u3000" + name[1:], " " + name + " ")[k % 3]


def _email_variant(email: str, k: int) -> str:
    """Same mailbox, different case or surrounding whitespace."""
    return (email.upper(), email[:1].upper() + email[1:], f"  {email} ", f"{email} ")[k % 4]


def _persons(
    rng: np.random.Generator, n: int, cal: Calendar, pools: Pools, block: Block, first_person: int
) -> pd.DataFrame:
    """One row per person with canonical attributes and a segment.

    Email numbers continue from the previous blocks' persons (`first_person`): emails never repeat."""
    company = rng.random(n) < 0.15
    latin = rng.random(n) < 0.3
    seg = rng.choice(len(PROFILES), size=n, p=[p.share for p in PROFILES])
    name = np.empty(n, dtype=object)
    zh_ind, en_ind = ~company & ~latin, ~company & latin
    name[zh_ind] = choice(rng, pools.zh_names, int(zh_ind.sum()))
    common = zh_ind & (rng.random(n) < 0.03)
    name[common] = choice(rng, COMMON_ZH_NAMES, int(common.sum()))
    first, last = choice(rng, pools.en_first, n), choice(rng, pools.en_last, n)
    name[en_ind] = (first + " " + last)[en_ind]
    name[company & ~latin] = choice(rng, pools.zh_companies, int((company & ~latin).sum()))
    name[company & latin] = choice(rng, pools.en_companies, int((company & latin).sum()))

    landline = company & (rng.random(n) < 0.4)
    phone = _phones(rng, n, landline, block)
    phone[rng.random(n) < 0.03] = None

    num = (rng.permutation(n) + 11 + first_person).astype(str).astype(object)
    rom = choice(rng, pools.romanized_first, n) + "." + choice(rng, pools.romanized_last, n)
    en_local = pd.Series(first + "." + last).str.lower().str.replace(r"[^a-z.]", "", regex=True).to_numpy()
    local = np.where(latin, en_local, rom) + num
    email = local + "@" + choice(rng, EMAIL_DOMAINS, n)
    kind = rng.random(n)
    generic_local = choice(rng, GENERIC_EMAIL_LOCAL_PARTS, n)
    shared = company & (kind < 0.4)
    email[shared] = (generic_local + "@" + choice(rng, SHARED_COMPANY_DOMAINS, n))[shared]
    own = company & (kind >= 0.4) & (kind < 0.7)
    email[own] = (generic_local + "@" + choice(rng, pools.romanized_last, n) + num + ".cn")[own]
    email[rng.random(n) < np.where(company, 0.05, 0.08)] = None

    abroad = latin & (rng.random(n) < 0.3)
    zh_city = np.array(ZH_CITIES, dtype=object)[rng.integers(0, len(ZH_CITIES), n)]
    intl = np.array(INTL_CITIES, dtype=object)[rng.integers(0, len(INTL_CITIES), n)]
    city = np.where(abroad, intl[:, 0], zh_city[:, 0])
    region = np.where(abroad, intl[:, 1], zh_city[:, 1])
    country = np.where(abroad, intl[:, 2], "CN").astype(object)
    address = np.where(
        abroad, choice(rng, pools.en_streets, n), city + "市" + choice(rng, pools.zh_streets, n)
    )
    multi = rng.random(n) < 0.015
    suffix = np.where(abroad, ",\nApt 4B, Floor 2", ",\n3栋402室")
    address = np.where(multi, address + suffix, address).astype(object)

    gender = choice(rng, ("male", "female", "unknown"), n, (0.48, 0.48, 0.04))
    gender[company] = np.where(rng.random(int(company.sum())) < 0.5, "unknown", None)
    birth = np.datetime64("1950-01-01", "s") + (rng.random(n) * 57 * 365.25).astype(np.int64) * DAY
    birth = birth.astype("datetime64[D]").astype("datetime64[s]")
    birth[company | (rng.random(n) < 0.06)] = NAT
    occupation = np.where(latin, choice(rng, pools.en_jobs, n), choice(rng, pools.zh_jobs, n)).astype(object)
    occupation[company | (rng.random(n) < 0.1)] = None
    source = choice(rng, c.entity("customers").column("source").codes, n, (30, 15, 8, 20, 7, 10, 10))

    return pd.DataFrame(
        {
            "name": name,
            "gender": gender,
            "birth_date": birth,
            "occupation": occupation,
            "phone_key": phone,
            "email": email,
            "address": address,
            "city": city,
            "region": region,
            "country": country,
            "customer_type": np.where(company, "company", "individual"),
            "source": source,
            "created_at": _created_at(rng, seg, cal),
            "_segment": seg,
            "_company": company,
            "_latin": latin,
            "_common": common,
            "_generic": shared | own,
        }
    )


def _created_at(rng: np.random.Generator, seg: np.ndarray, cal: Calendar) -> np.ndarray:
    """Sign-up time by segment: long-standing customers, early churners, recent sign-ups."""
    n = len(seg)
    before = cal.t0 - 1000 * DAY
    old = uniform_times(rng, np.full(n, before), np.full(n, cal.t0))
    mid = uniform_times(rng, np.full(n, cal.t0), np.full(n, cal.day_start(1) - 150 * DAY))
    early = uniform_times(rng, np.full(n, cal.t0), np.full(n, cal.t0 + 120 * DAY))
    recent = uniform_times(rng, np.full(n, cal.end - NEW_WINDOW_DAYS * DAY), np.full(n, cal.end))
    u = rng.random(n)
    out = np.where(u < 0.8, old, mid)
    out = np.where(seg == AT_RISK, np.where(u < 0.7, old, early), out)
    return np.where(seg == NEW, recent, out)


def _pick(rng: np.random.Generator, mask: np.ndarray, k: int) -> np.ndarray:
    idx = np.flatnonzero(mask)
    return np.sort(rng.choice(idx, size=min(k, len(idx)), replace=False))


def _plant_households(rng: np.random.Generator, persons: pd.DataFrame, pools: Pools) -> np.ndarray:
    """Pairs of individuals sharing one phone and address, with different names. Returns (first, second)."""
    from .identity import normalise_name

    ok = (persons["customer_type"] == "individual").to_numpy() & persons["phone_key"].notna().to_numpy()
    k = max(2, int(round(HOUSEHOLD_SHARE * len(persons) / 2)))
    idx = _pick(rng, ok, 2 * k)
    rng.shuffle(idx)
    pairs = idx[: len(idx) // 2 * 2].reshape(-1, 2)
    a, b = pairs[:, 0], pairs[:, 1]
    for col in ("phone_key", "address", "city", "region", "country"):
        values = persons[col].to_numpy(dtype=object).copy()
        values[b] = values[a]
        persons[col] = values
    names = persons["name"].to_numpy(dtype=object).copy()
    for i, j in pairs:  # a few hundred pairs per 100k persons
        while normalise_name(names[j]) == normalise_name(names[i]):
            names[j] = pools.zh_names[rng.integers(0, len(pools.zh_names))]
    persons["name"] = names
    return pairs


def _duplicate_rows(
    rng: np.random.Generator, persons: pd.DataFrame, dup: np.ndarray, cal: Calendar
) -> pd.DataFrame:
    """Extra exports of the persons in `dup` (1 or 2 each), with cosmetic variants that still link."""
    copies = np.where(rng.random(len(dup)) < 0.8, 1, 2)
    src = np.repeat(dup, copies)
    rows = persons.iloc[src].copy()
    rows["_person"] = src
    records = []
    emails, phones, names = rows["email"].to_numpy(), rows["phone_key"].to_numpy(), rows["name"].to_numpy()
    generic, latin = rows["_generic"].to_numpy(), rows["_latin"].to_numpy()
    for j in range(len(rows)):  # ~3 % of persons
        email_links = isinstance(emails[j], str) and not generic[j]
        k = int(rng.integers(0, 12))
        email = _email_variant(emails[j], k) if email_links else emails[j]
        if email_links and rng.random() < 0.3:
            phone_style, phone = 0, None  # linked by email alone
        else:
            phone_style, phone = 1 + k % 4, phones[j]
        name = _name_variant(names[j], bool(latin[j]), k) if rng.random() < 0.7 else names[j]
        records.append((email, phone, phone_style, name))
    rows["email"] = [x[0] for x in records]
    rows["phone_key"] = [x[1] for x in records]
    rows["_phone_style"] = np.array([x[2] for x in records], dtype=np.int64)
    rows["name"] = [x[3] for x in records]
    first = rows["created_at"].to_numpy()
    later = first + (rng.integers(1, 300, len(rows)) * DAY)
    rows["created_at"] = np.where(
        later < cal.end, later, uniform_times(rng, first, np.full(len(rows), cal.end))
    )
    rows["source"] = choice(rng, c.entity("customers").column("source").codes, len(rows))
    rows.loc[rng.random(len(rows)) < 0.3, "birth_date"] = NAT
    rows["_role"] = DUPLICATE
    return rows


def _field_defects(rng: np.random.Generator, cust: pd.DataFrame) -> None:
    """Give ~0.5 % of singleton customers one invalid email / phone / impossible birth date (in place)."""
    single = (cust["_role"] == SINGLE).to_numpy()
    n = max(3, int(round(FIELD_DEFECT_SHARE * len(cust))))
    kinds = [c.INVALID_EMAIL, c.INVALID_PHONE, c.IMPOSSIBLE_BIRTH_DATE]
    need = {
        c.INVALID_EMAIL: single & cust["email"].notna().to_numpy(),
        c.INVALID_PHONE: single & cust["phone"].notna().to_numpy(),
        c.IMPOSSIBLE_BIRTH_DATE: single & (cust["customer_type"] == "individual").to_numpy(),
    }
    taken = np.zeros(len(cust), dtype=bool)
    bad_emails = ("{l}#{d}", "{l}@{d0}", "{l} x@{d}", "{l}@@{d}", "@{d}")
    bad_phones = ("12345", "1380013800O", "电话待定", "138001380001234567", "138****8000", "n/a")
    for i in range(n):
        kind = kinds[i % 3]
        idx = np.flatnonzero(need[kind] & ~taken)
        if not len(idx):
            continue
        row = int(rng.choice(idx))
        taken[row] = True
        cust.iat[row, cust.columns.get_loc("_field_defect")] = kind
        if kind == c.INVALID_EMAIL:
            local, domain = cust.at[row, "email"].split("@")
            tpl = bad_emails[i // 3 % len(bad_emails)]
            cust.at[row, "email"] = tpl.format(l=local, d=domain, d0=domain.split(".")[0])
        elif kind == c.INVALID_PHONE:
            cust.at[row, "phone"] = bad_phones[i // 3 % len(bad_phones)]
        else:
            year = (1850, 1899, 2031, 2099)[i // 3 % 4]
            cust.at[row, "birth_date"] = np.datetime64(f"{year}-0{1 + i % 9}-1{i % 10}", "s")


def _sign_up_on_extract_days(rng: np.random.Generator, persons: pd.DataFrame, cal: Calendar) -> None:
    """Make sure at least two new singleton customers sign up on every extract day but the last.

    They are the candidates for late-arriving customer rows (withheld for a day or two).
    """
    pool = np.flatnonzero(((persons["_role"] == SINGLE) & (persons["_segment"] == NEW)).to_numpy())
    pick = rng.choice(pool, size=min(len(pool), 2 * (cal.days - 1)), replace=False)
    for j, row in enumerate(pick):
        day = cal.day_start(1 + j // 2)
        persons.at[row, "created_at"] = day + np.timedelta64(int(rng.integers(8 * 3600, 16 * 3600)), "s")


def build_customers(
    n_target: int, cal: Calendar, seed: int, pools: Pools, block: Block = ONE_BLOCK, first_person: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """All customer rows of the timeline, sorted by sign-up; customer id = row position + 1.

    Returns the customers frame (contract columns + internal `_...` columns) and the household pairs
    as customer row indices (shape (k, 2)), used for `family` relationships.
    """
    rng = rng_stream(seed, "people")
    n_persons = max(60, int(round(n_target / (1 + DUPLICATE_PERSON_SHARE * 1.2))))
    persons = _persons(rng, n_persons, cal, pools, block, first_person)
    persons["_role"] = SINGLE
    persons["_person"] = np.arange(n_persons)
    mobile_style = np.where(
        rng.random(n_persons) < 0.8, 0, rng.choice([1, 2, 3, 4], n_persons, p=[0.35, 0.3, 0.1, 0.25])
    )
    landline_style = rng.choice([0, 1, 2], n_persons, p=[0.4, 0.4, 0.2])
    landline = persons["phone_key"].str.startswith("0").fillna(False).to_numpy()
    persons["_phone_style"] = np.where(landline, landline_style, mobile_style)
    pairs = _plant_households(rng, persons, pools)
    persons.loc[pairs.ravel(), "_role"] = HOUSEHOLD

    has_link = persons["phone_key"].notna() | (persons["email"].notna() & ~persons["_generic"])
    dup_ok = (persons["_role"] == SINGLE).to_numpy() & has_link.to_numpy()
    dup = _pick(rng, dup_ok, max(2, int(round(DUPLICATE_PERSON_SHARE * n_persons))))
    persons.loc[dup, "_role"] = DUPLICATE
    _sign_up_on_extract_days(rng, persons, cal)
    cust = pd.concat([persons, _duplicate_rows(rng, persons, dup, cal)], ignore_index=True)

    cust["phone"] = display_phone(cust["phone_key"], cust["_phone_style"].to_numpy())
    cust["_field_defect"] = ""
    _field_defects(rng, cust)

    order = np.argsort(cust["created_at"].to_numpy(), kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    cust = cust.iloc[order].reset_index(drop=True)
    cust["customer_id"] = np.arange(1, len(cust) + 1, dtype=np.int64)
    cust["status"] = None  # filled from order history later
    households = position[pairs[:, :2]] if len(pairs) else np.zeros((0, 2), dtype=np.int64)
    # Person ids are numbered by the person's first export.
    first = cust.groupby("_person", sort=False)["customer_id"].transform("min").to_numpy()
    _, cust["_person"] = np.unique(first, return_inverse=True)
    cust["_person"] += 1
    return cust, households
