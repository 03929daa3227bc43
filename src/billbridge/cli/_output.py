"""Shared terminal output for the commands: Rich consoles, errors, and settings loading."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from billbridge.errors import ConfigurationError
from billbridge.settings import Settings, get_settings

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print ``message`` as an error on standard error and exit with ``code``."""
    err_console.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(code)


def load_settings(**overrides: object) -> Settings:
    """The settings, or a clear exit naming the bad variable."""
    try:
        return get_settings(**overrides)
    except ConfigurationError as exc:
        fail(exc.message, code=2)
