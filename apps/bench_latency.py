#!/usr/bin/env python3
"""The latency benchmark as a script: the same as ``lutrun bench latency`` (see --help)."""
from lutrun.cli import main
from lutrun.cli.bench import bench_latency_cmd

if __name__ == "__main__":
    main(bench_latency_cmd, prog_name="bench_latency.py")
