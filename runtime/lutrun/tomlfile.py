"""Reading TOML settings files: tomllib from Python 3.11, tomli before."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lutrun.errors import ConfigError


def read_toml(path: str | Path, extra: str) -> dict[str, Any]:
    """The table in ``path``; ConfigError names the file and the problem.  ``extra`` names the pip extra
    that brings tomli on Python 3.10."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError(f"reading a TOML file on Python 3.10 needs tomli: pip install 'lutrun[{extra}]'") from None
    try:
        return tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
