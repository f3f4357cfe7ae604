"""Embedding matplotlib figures in a self-contained page."""

from __future__ import annotations

import base64
import io
from typing import Any


def figure_data_uri(fig: Any, dpi: int = 110) -> str:
    """A ``data:image/png;base64,...`` URI of ``fig``; the figure is closed afterwards."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
