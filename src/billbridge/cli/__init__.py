"""The ``billbridge`` command line (Typer + Rich)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="billbridge",
    help="Link BILL (Bill.com) accounts and keep those links alive.",
    no_args_is_help=True,
    add_completion=False,
)


def _register() -> None:
    # Each command lives in its own module; they register themselves on `app`.
    from billbridge.cli import (  # noqa: F401
        connections,
        demo,
        keys,
        link,
        records,
        serve,
        simulator_cmd,
        sync,
        sync_run,
        worker,
    )


def main() -> None:
    """Console entry point."""
    _register()
    app()
