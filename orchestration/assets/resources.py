"""Dagster resources: where the warehouse lives (from settings) and the one-writer lock."""


from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import dagster as dg

from orchestration.lock import warehouse_lock
from orchestration.settings import Settings, load_settings


class WarehouseResource(dg.ConfigurableResource):
    """Paths of one warehouse (landing, raw zone, work file, serving file), from CRM_* environment
    variables unless given. Holds the warehouse write lock for the whole run, so runs started from the
    UI, schedules and sensors queue behind `crm-warehouse run` the same way (they fail fast, naming the
    holder, instead of corrupting the work file)."""

    landing_dir: str | None = None
    warehouse_dir: str | None = None

    def settings(self) -> Settings:
        return load_settings(self.landing_dir, self.warehouse_dir)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WarehouseResource"]:
        settings = self.settings()
        settings.export_env()
        settings.work_db.parent.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            stack.enter_context(warehouse_lock(settings.lock_file, f"dagster run {context.run_id or ''}".strip()))
            yield self
