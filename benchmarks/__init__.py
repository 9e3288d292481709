"""Benchmarks: pytest-benchmark speed suites and the quality harness (quality.py)."""
