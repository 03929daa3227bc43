"""Every service of a running billbridge, built once from Settings (serve, link, demo, worker)."""

from __future__ import annotations

from billbridge.runtime.core import Runtime, open_runtime
from billbridge.runtime.syncs import SyncRole

__all__ = ["Runtime", "SyncRole", "open_runtime"]
