"""Indicators: a declarative catalogue of SQL queries over the lake, run on DuckDB or Spark,
published with small cells suppressed (see docs/indicators.md)."""

from __future__ import annotations

from vigie.indicators.catalogue import (
    Indicator,
    IndicatorError,
    builtin_indicators,
    load_catalogue,
)
from vigie.indicators.engine import publish, run
from vigie.indicators.filters import Filters
from vigie.indicators.privacy import format_fr, render_fr, suppress

__all__ = [
    "Filters",
    "Indicator",
    "IndicatorError",
    "builtin_indicators",
    "format_fr",
    "load_catalogue",
    "publish",
    "render_fr",
    "run",
    "suppress",
]
