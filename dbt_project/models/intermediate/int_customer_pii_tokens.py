"""Keyed hashes and masked display values of customer personal data (dbt-duckdb Python model).

Grain: one row per customer_id of stg_crm__customers.

DuckDB has no HMAC function, and the secret must never be templated into SQL or dbt artifacts, so the
hashes are computed here, in Python, with the key read from the environment at run time (CRM_PII_KEY; the
compiled model holds only this code, never the key). The Python functions are registered on the dbt
DuckDB connection for the duration of one query and removed afterwards; the key lives only in their
closure. Each hash is HMAC-SHA256(key = CRM_PII_KEY as UTF-8, message = normalised value as UTF-8),
lower-case hex, computed once per DISTINCT value and joined back (a person's email appears under several
duplicate records):

* email_hash: email as staged (lower/trim);
* phone_hash: national phone number, digits only (phone_normalized without a leading + / 86 country code,
  the same form identity resolution matches on);
* name_hash: name_normalized (full-width folded, whitespace removed, lower-cased).

Masked display values (safe for BI, never the full value): name_masked = first character + '*'
('王伟' -> '王*'), email_masked = first character of the local part + '***@' + domain
('wei@example.com' -> 'w***@example.com'), phone_masked = '****' + last 4 digits ('****8000').
"""

import hashlib
import hmac
import os

PII_KEY_ENV = "CRM_PII_KEY"
INPUT_VIEW = "int_customer_pii_tokens__input"
RESULT_TABLE = "int_customer_pii_tokens__result"

TOKENS_SQL = f"""
create or replace temp table {RESULT_TABLE} as
with

customers as (
    select
        customer_id,
        name,
        email,
        nullif(regexp_replace(phone_normalized, '[^0-9]', '', 'g'), '') as phone_digits,
        name_normalized
    from {INPUT_VIEW}
),

email_hashes as (
    select email, crm_pii_hmac(email) as email_hash
    from (select distinct email from customers where email is not null) as distinct_emails
),

phone_hashes as (
    select phone_digits, crm_pii_hmac(phone_digits) as phone_hash
    from (select distinct phone_digits from customers where phone_digits is not null) as distinct_phones
),

name_hashes as (
    select name_normalized, crm_pii_hmac(name_normalized) as name_hash
    from (select distinct name_normalized from customers where name_normalized is not null) as distinct_names
)

select
    customers.customer_id,
    email_hashes.email_hash,
    phone_hashes.phone_hash,
    name_hashes.name_hash,
    crm_pii_mask_email(customers.email) as email_masked,
    crm_pii_mask_phone(customers.phone_digits) as phone_masked,
    crm_pii_mask_name(customers.name) as name_masked
from customers
left join email_hashes on customers.email = email_hashes.email
left join phone_hashes on customers.phone_digits = phone_hashes.phone_digits
left join name_hashes on customers.name_normalized = name_hashes.name_normalized
"""


def pii_key() -> bytes:
    """The HMAC key from the environment; a clear error when it is missing."""
    key = os.environ.get(PII_KEY_ENV)
    if not key:
        raise RuntimeError(
            f"{PII_KEY_ENV} is not set: it is the secret key for hashing personal data (HMAC-SHA256) in "
            "int_customer_pii_tokens. Set it in the environment of the dbt run (never in SQL or dbt vars)."
        )
    return key.encode("utf-8")


def hmac_hex(key: bytes, value: str) -> str:
    """HMAC-SHA256 of the UTF-8 value, lower-case hex."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mask_name(name: str | None) -> str | None:
    """First character + '*'; None for a missing or blank name."""
    if name is None or not name.strip():
        return None
    return name.strip()[0] + "*"


def mask_email(email: str | None) -> str | None:
    """First character of the local part + '***@' + domain; None when not an email."""
    if email is None or "@" not in email:
        return None
    local, domain = email.split("@", 1)
    return (local[:1] or "*") + "***@" + domain


def mask_phone(digits: str | None) -> str | None:
    """'****' + the last 4 digits; None for a missing phone."""
    if not digits:
        return None
    return "****" + digits[-4:]


def model(dbt, session):
    dbt.config(materialized="table")
    key = pii_key()
    dbt.ref("stg_crm__customers").project(
        "customer_id, name, email, phone_normalized, name_normalized"
    ).create_view(INPUT_VIEW, replace=True)
    functions = {
        "crm_pii_hmac": lambda value: hmac_hex(key, value),
        "crm_pii_mask_email": mask_email,
        "crm_pii_mask_phone": mask_phone,
        "crm_pii_mask_name": mask_name,
    }
    for name, function in functions.items():
        session.create_function(name, function, ["VARCHAR"], "VARCHAR")
    try:
        session.execute(TOKENS_SQL)
    finally:
        for name in functions:
            session.remove_function(name)
        session.execute(f"drop view if exists {INPUT_VIEW}")
    return session.table(RESULT_TABLE)
