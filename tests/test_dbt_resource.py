"""The dbt CLI resource's two start-up shortcuts (orchestration/assets/dbt.py, CrmDbtCliResource) override
members of dagster-dbt's DbtCliResource that are private. If a dagster-dbt upgrade renames them, the
overrides would be silently unused (every dbt step ~4.6 s slower, not wrong): these tests make the upgrade
fail loudly instead, and check that the shortcuts give what dagster-dbt would compute."""

import inspect
import subprocess
from importlib.metadata import version

from dagster_dbt import DbtCliResource
from packaging.version import Version

from orchestration.assets.dbt import CrmDbtCliResource, dbt_executable, dbt_resource

OVERRIDDEN = ("_cli_version", "_initialize_dbt_core_adapter")


def test_the_overridden_members_still_exist_and_are_used_by_cli():
    cli_source = inspect.getsource(DbtCliResource.cli)
    for name in OVERRIDDEN:
        assert name in vars(DbtCliResource), f"dagster-dbt no longer defines DbtCliResource.{name}"
        assert f"self.{name}" in cli_source, f"DbtCliResource.cli no longer calls self.{name}"
        assert name in vars(CrmDbtCliResource)


def test_the_version_shortcut_equals_what_dbt_reports():
    resource = dbt_resource()
    assert isinstance(resource, CrmDbtCliResource)
    out = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True).stdout
    assert resource._cli_version == Version(version("dbt-core"))
    assert str(resource._cli_version) in out
    assert resource._initialize_dbt_core_adapter(["build"]) is None
