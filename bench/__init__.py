"""Benchmarks and the synthetic data generator (bench/generator/): tools around the warehouse, not part of it."""
