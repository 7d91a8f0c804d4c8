"""Benchmarks: each prints one line of figures, as ratios against a baseline of the same run."""
