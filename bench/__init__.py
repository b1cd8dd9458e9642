"""Benchmark harness of crm-warehouse: `crm-warehouse bench` (harness), the pandas way, the scan floor."""
