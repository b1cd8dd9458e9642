"""Benchmarks and the synthetic data generator, tools around the warehouse and not part of it:
`crm-warehouse bench` (harness), the pandas way, the scan floor, and `bench/generator/`."""
