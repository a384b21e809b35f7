"""matplotlib for the commands that save a figure: imported on demand, drawing to files only."""
from __future__ import annotations

from typing import Any

from lutrun.errors import BackendUnavailableError


def pyplot(extra: str = "plot") -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed), or one clear line naming the extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BackendUnavailableError(f"plotting needs matplotlib: pip install 'lutrun[{extra}]'") from None
    return plt
