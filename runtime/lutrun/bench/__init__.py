"""Benchmarks that print one JSON object each; key names are stable (scripts read them)."""
