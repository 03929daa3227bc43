"""HTTP API (Nango-compatible), proxy route and Connect UI."""

from __future__ import annotations

from billbridge.web.app import create_app
from billbridge.web.services import Services, open_services

__all__ = ["Services", "create_app", "open_services"]
