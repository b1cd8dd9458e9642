"""crm-warehouse orchestration: extract contract, raw zone loader, Dagster definitions and the CLI."""
