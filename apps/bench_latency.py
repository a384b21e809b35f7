#!/usr/bin/env python3
"""The latency benchmark as a script: the same as ``lutrun bench latency`` (see --help)."""
import sys

from lutrun.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["bench", "latency"]
    main()
