"""The generated dbt yml: the `crm` source (`_crm__sources.yml`) and the staging models' `_models.yml`,
their descriptions and data tests (keys, code sets, foreign keys) derived from the extract contract."""

from __future__ import annotations

import json

from dbt_contract import (
    EXTRA_FIELDS,
    GENERATED_BY,
    LINEAGE,
    QUOTED_COLUMNS,
    SOURCE_NAME,
    STAGING_EXTRAS,
    C,
    cleaner,
    staging_name,
)

HEADER = f"# {GENERATED_BY}\n"

# Descriptions for columns the contract leaves undocumented, by column name.
COMMON_DOCS = {
    "customer_id": "customer id (source system)",
    "product_id": "product id (source system)",
    "rep_id": "sales rep id (source system)",
    "campaign_id": "campaign id (source system)",
    "order_id": "order id (source system)",
    "communication_id": "communication id (source system)",
    "event_id": "behaviour event id (source system)",
    "opportunity_id": "opportunity id (source system)",
    "ticket_id": "service ticket id (source system)",
    "agent_id": "id of the service agent handling the ticket",
    "from_customer_id": "customer the relationship starts from",
    "to_customer_id": "customer the relationship points to",
    "relationship_type": "kind of relationship between the two customers",
    "line_no": "line number within the order",
    "name": "name",
    "gender": "gender",
    "birth_date": "date of birth",
    "occupation": "occupation",
    "phone": "phone number",
    "email": "email address",
    "address": "postal address",
    "city": "city",
    "region": "sales region",
    "country": "country",
    "customer_type": "individual or company",
    "source": "acquisition source",
    "status": "status",
    "created_at": "when the row was created in the source system",
    "category": "category",
    "list_price": "list price (site currency, crm.yml)",
    "launched_at": "launch date",
    "team": "sales team",
    "hired_at": "hire date",
    "priority": "ticket priority",
    "first_response_target_minutes": "SLA target for the first response, in minutes",
    "resolution_target_hours": "SLA target for resolution, in hours",
    "csat_target": "customer satisfaction target (1-5)",
    "valid_from": "date from which the plan applies",
    "goal": "campaign goal",
    "strategy": "campaign strategy",
    "measures": "planned measures",
    "channel": "channel",
    "start_date": "first day of the campaign",
    "end_date": "last day of the campaign",
    "budget": "budget (site currency, crm.yml)",
    "target_segment": "customer segment the campaign targets",
    "target_amount": "sales amount target (site currency, crm.yml)",
    "target_units": "sales units target",
    "since": "date the relationship started",
    "direction": "inbound or outbound",
    "occurred_at": "when the event happened",
    "subject": "subject line",
    "content": "free-text content (may hold phones/emails)",
    "outcome": "outcome of the communication",
    "event_type": "kind of behaviour event",
    "order_date": "when the order was placed",
    "currency": "ISO 4217 currency code",
    "quantity": "units ordered",
    "unit_price": "price per unit (site currency, crm.yml)",
    "stage": "pipeline stage",
    "amount": "opportunity amount (site currency, crm.yml)",
    "is_closed": "true when the opportunity is closed",
    "is_won": "true when the opportunity was won",
    "date": "day of campaign execution",
    "spend": "spend on the day (site currency, crm.yml)",
    "progress_pct": "campaign progress in percent (0-100)",
    "risk_note": "free-text risk note",
    "group": "experiment group of the member",
    "assigned_at": "when the customer was assigned to the campaign",
    "sent_at": "when the campaign message was sent",
    "opened_at": "when the message was opened / the ticket was opened",
    "clicked_at": "when the message was clicked",
    "responded_at": "when the customer responded",
    "first_response_at": "first agent response",
    "resolved_at": "when the ticket was resolved",
    "satisfaction_score": "customer satisfaction score (1-5)",
    "feedback_text": "free-text customer feedback (may hold phones/emails)",
    "reopened_count": "times the ticket was reopened",
}

MODEL_DOCS = {
    "customers": "Current customers: the latest version of each customer, deleted customers removed.",
    "products": "Current product list: the newest products snapshot.",
    "sales_reps": "Current sales reps: the newest sales_reps snapshot.",
    "service_plans": "Current SLA plans per ticket priority and valid_from date: the newest snapshot.",
    "campaigns": "Current marketing campaign plans: the newest campaigns snapshot.",
    "sales_targets": "Current sales targets per month and rep: the newest sales_targets snapshot.",
    "customer_relationships": "Current relationships between customers (latest version, deletes removed).",
    "communications": "Communications with customers (latest version, deletes removed).",
    "behavior_events": "Customer behaviour events (latest version, deletes removed).",
    "orders": "Order headers (latest version, deletes removed).",
    "order_items": "Order lines (latest version, deletes removed) with their net amount.",
    "opportunities": "Sales opportunities (latest version, deletes removed).",
    "campaign_spend": "Campaign execution per campaign and day (latest version, deletes removed).",
    "campaign_members": "Customers assigned to campaigns and their funnel timestamps (latest version, deletes removed).",
    "service_tickets": "Customer service tickets (latest version, deletes removed).",
    "fx_rates": "Exchange rates into the site currency per currency and valid_from date: the newest snapshot "
    "(optional entity: empty on a single-currency site).",
}

def q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def flow(values) -> str:
    return "[" + ", ".join(q(v) for v in values) + "]"


def raw_doc(entity, col) -> str:
    parts = [col.doc or COMMON_DOCS.get(col.name, col.name.replace("_", " "))]
    if col.codes is C.ISO_4217:
        parts.append("an ISO 4217 code (checked by the loader)")
    elif col.codes:
        parts.append("one of: " + ", ".join(col.codes))
    if col.references:
        parts.append(f"references {col.references}")
    if col.name in entity.key:
        parts.append("part of the key" if len(entity.key) > 1 else "key")
    if col.pii:
        parts.append("PII")
    if col.free_text:
        parts.append("free text, redact before BI")
    if col.field_check:
        parts.append(f"nulled by the loader when invalid ({col.field_check})")
    return "; ".join(parts)


def staging_doc(entity, col) -> str:
    how = cleaner(col).how
    base = raw_doc(entity, col)
    return f"{base} ({how})" if how else base


def sources_yml() -> str:
    out = [HEADER, "version: 2\n", "sources:\n"]
    out.append(f"  - name: {SOURCE_NAME}\n")
    out.append(
        "    description: >\n"
        "      The raw zone: one Parquet dataset per extract entity, written by the raw loader under\n"
        "      $RAW_ROOT/<entity>/_batch=YYYY-MM-DD/*.parquet. Rows already passed the row-level rules\n"
        "      of orchestration/contract/ (bad rows are in ops.quarantine); columns carry the contract\n"
        "      types plus lineage columns. Delta entities hold every version; snapshot entities every\n"
        "      full list.\n"
    )
    out.append("    tables:\n")
    for e in C.ENTITIES:
        # The empty typed relation in front gives every source an `extra_fields` column even when no
        # file of the entity has one yet (raw files of loaders before schema evolution, test fixtures).
        location = (
            "(select * from (select cast(null as map(varchar, varchar)) as extra_fields where false) "
            "union all by name select * from read_parquet('{{ env_var('RAW_ROOT', 'raw') }}/" + e.name
            + "/*/*.parquet', hive_partitioning=true, union_by_name=true))"
        )
        kind = (
            "delta (new and changed rows; latest version wins)"
            if e.kind == C.DELTA
            else "snapshot (full list every extract)"
        )
        desc = f"{e.doc + '. ' if e.doc else ''}Extract kind: {kind}. Key: {', '.join(e.key)}."
        out.append(f"      - name: {e.name}\n")
        out.append(f"        description: {q(desc)}\n")
        out.append("        meta:\n")
        out.append(f"          external_location: {q(location)}\n")
        out.append("          dagster:\n")
        out.append(f"            asset_key: {flow(['raw', e.name])}\n")
        out.append("        columns:\n")
        for col in e.columns:
            out.append(
                f"          - name: {q(col.name)}\n"
                if col.name in QUOTED_COLUMNS
                else f"          - name: {col.name}\n"
            )
            if col.name in QUOTED_COLUMNS:
                out.append("            quote: true\n")
            out.append(f"            data_type: {col.type}\n")
            out.append(f"            description: {q(raw_doc(e, col))}\n")
        for name, dtype, doc in (*LINEAGE, EXTRA_FIELDS):
            out.append(f"          - name: {name}\n")
            out.append(f"            data_type: {dtype}\n")
            out.append(f"            description: {q(doc)}\n")
    return "".join(out)


def _key_column(entity_name: str) -> str:
    parent = C.entity(entity_name)
    assert len(parent.key) == 1, f"{entity_name}: composite parent keys need a different FK test"
    return parent.key[0]


def models_yml() -> str:
    out = [HEADER, "version: 2\n", "models:\n"]
    for e in C.ENTITIES:
        extras = STAGING_EXTRAS.get(e.name, [])
        how = (
            "Latest version per key by updated_at desc, _extract_date desc, _source_line desc; keys whose "
            "latest version is deleted are removed."
            if e.kind == C.DELTA
            else "Rows of the newest _extract_date present in the raw zone; a key missing from that "
            "snapshot is deleted."
        )
        desc = f"{MODEL_DOCS[e.name]} {how} One row per {', '.join(e.key)}."
        pii = [c.name for c in e.columns if c.pii or c.free_text]
        if pii:
            desc += f" Holds raw personal data ({', '.join(pii)}): work file only, mask before BI."
        out.append(f"  - name: stg_crm__{e.name}\n")
        out.append(f"    description: {q(desc)}\n")
        if len(e.key) > 1:
            out.append("    data_tests:\n")
            out.append("      - unique_combination:\n")
            out.append("          arguments:\n")
            out.append(f"            combination: {flow(staging_name(e, e.column(k)) for k in e.key)}\n")
        out.append("    columns:\n")
        columns: list[tuple[str, str, list[str]]] = []
        for col in e.columns:
            if col.name == "is_deleted":
                continue  # always false after the filter, not exposed
            name = staging_name(e, col)
            tests: list[str] = []
            if col.name in e.key:
                tests.append("          - not_null\n")
                if len(e.key) == 1:
                    tests.append("          - unique\n")
            if col.codes and col.codes is not C.ISO_4217:  # ~300 ISO codes: the loader's rule suffices
                tests.append(
                    "          - accepted_values:\n"
                    "              arguments:\n"
                    f"                values: {flow(col.codes)}\n"
                )
            if col.references:
                tests.append(
                    "          - relationships:\n"
                    "              arguments:\n"
                    f"                to: ref('stg_crm__{col.references}')\n"
                    f"                field: {_key_column(col.references)}\n"
                    "              config:\n"
                    "                severity: warn\n"
                )
            doc = staging_doc(e, col)
            if name != col.name:
                doc += f" (raw column `{col.name}`)"
            columns.append((name, doc, tests))
            columns.extend((x.name, x.doc, []) for x in extras if x.after == col.name)
        for name, _dtype, doc in (EXTRA_FIELDS, *LINEAGE):
            columns.append((name, f"{doc} (of the winning version)" if e.kind == C.DELTA else doc, []))
        for name, doc, tests in columns:
            out.append(f"      - name: {name}\n")
            out.append(f"        description: {q(doc)}\n")
            if tests:
                out.append("        data_tests:\n")
                out.extend(tests)
    return "".join(out)


