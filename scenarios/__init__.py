"""Scenario bundles, the reference county, generators, demand, what-if and placement."""
