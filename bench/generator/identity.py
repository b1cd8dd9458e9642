"""How two customer rows are recognised as the same person (the rule `_truth/duplicates.csv` is built for).

Two rows belong to the same person when they share a normalised, non-generic email, OR a normalised
phone together with a normalised name; persons are the connected components of that link. The
generator plants duplicates and look-alikes so that exactly this rule recovers `person_id`:

* email: trim, lower-case. A local part in `GENERIC_EMAIL_LOCAL_PARTS` (info@, sales@ ...) never links.
* phone: NFKC (full-width digits to ASCII), keep digits only, then drop a leading `86` country code from
  13-digit numbers (`+86 138-0013-8000` == `13800138000`). Fewer than 7 digits never links.
* name: NFKC (full-width letters and the ideographic space to ASCII), case-fold, remove all whitespace
  (`王 伟` == `王伟`, `JOHN  SMITH` == `John Smith`).
"""

from __future__ import annotations

import re
import unicodedata

from . import GENERIC_EMAIL_LOCAL_PARTS

_NON_DIGIT = re.compile(r"[^0-9]")
_SPACE = re.compile(r"\s+")


def normalise_email(email: str | None) -> str:
    """Trimmed, lower-cased email ('' when missing)."""
    return (email or "").strip().lower()


def is_generic_email(email: str | None) -> bool:
    """True for a role mailbox such as info@ or sales@ (never a person identifier)."""
    local = normalise_email(email).split("@", 1)[0]
    return local in GENERIC_EMAIL_LOCAL_PARTS


def normalise_phone(phone: str | None) -> str:
    """Digits only, full-width folded, leading 86 dropped from 13-digit numbers ('' when missing)."""
    digits = _NON_DIGIT.sub("", unicodedata.normalize("NFKC", phone or ""))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def normalise_name(name: str | None) -> str:
    """NFKC, case-folded, whitespace removed ('' when missing)."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", name or "").casefold())
