"""The web application of `vigie serve`: dashboards and a JSON API of published indicators
(see docs/web.md)."""

from __future__ import annotations

from vigie.web.app import create_app

__all__ = ["create_app"]
