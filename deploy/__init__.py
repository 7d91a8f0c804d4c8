"""Packaging for AWS (dev tooling, never deployed itself)."""
