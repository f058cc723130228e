"""Figures as the recipes write them into cards and reports."""

from __future__ import annotations

from typing import Any


def round_figures(obj: Any) -> Any:
    """``obj`` with every float to 4 significant digits, through dicts and lists (keeps parity figures
    like 1.6e-07 readable)."""
    if isinstance(obj, float):
        return float(f"{obj:.4g}")
    if isinstance(obj, dict):
        return {k: round_figures(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [round_figures(v) for v in obj]
    return obj
