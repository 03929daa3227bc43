"""Runs a billbridge command in its own process for the browser tests, as an operator would.

    python serve.py simulator --port P --environment sandbox
    python serve.py serve --port P          (settings from BILLBRIDGE_* variables)

The command modules are imported here so the launcher does not depend on which commands the CLI
registers at import time.
"""

from __future__ import annotations

from billbridge.cli import app, serve, simulator_cmd  # noqa: F401

if __name__ == "__main__":
    app()
