"""HTTP API (Nango-compatible), proxy route and Connect UI."""

from __future__ import annotations

from billbridge.web.app import create_app

__all__ = ["create_app"]
