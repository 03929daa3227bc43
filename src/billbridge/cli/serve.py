"""``billbridge serve``: the API, proxy and Connect UI in one process (the embedded default)."""

from __future__ import annotations

import asyncio
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from billbridge.cli import _server, app
from billbridge.cli._logging import configure_logging
from billbridge.cli._output import console, err_console, fail, load_settings
from billbridge.errors import ConfigurationError
from billbridge.settings import Settings
from billbridge.store import ApiKeyRepository, Database, open_keyring
from billbridge.store.data_dir import ServeLock, create_private_directory, wide_permissions
from billbridge.store.db import sqlite_file
from billbridge.store.keyfile import key_file_path
from billbridge.web import create_app


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the first start created: a secret key to show once, a key file to mention."""

    secret_key: str | None
    key_file: Path | None
    database: str


def server_settings(host: str, port: int, **overrides: object) -> Settings:
    """Settings whose public URL defaults to where this process listens."""
    settings = load_settings(**overrides)
    if "public_url" in settings.model_fields_set:
        return settings
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    shown = f"[{shown}]" if ":" in shown else shown
    return load_settings(**overrides, public_url=f"http://{shown}:{port}")


async def prepare(settings: Settings) -> Prepared:
    """Create the data directory, key file, schema and secret key if they do not exist yet.

    Raises:
        MissingKeyError: the database holds secrets under keys the keyring lacks.
    """
    create_private_directory(settings.data_dir)
    db = await Database.open(settings)
    try:
        keyring = await open_keyring(settings, db)
        generated = await ApiKeyRepository(db, keyring).ensure_secret_key(settings.secret_key)
        database = "PostgreSQL" if db.is_postgres else "SQLite"
    finally:
        await db.close()
    return Prepared(secret_key=generated, key_file=keyring.created_key_file, database=database)


def announce(settings: Settings, prepared: Prepared, *, listen: str) -> None:
    """Tell the operator where things are, and the new secret key (this once only)."""
    public = str(settings.public_url).rstrip("/")
    console.print(f"[bold]billbridge[/] listening on {listen}  (public URL {public})", soft_wrap=True)
    where = settings.data_dir if prepared.database == "SQLite" else "BILLBRIDGE_DATABASE_URL"
    console.print(f"  database: {prepared.database} ({where})", soft_wrap=True)
    if prepared.key_file is not None:
        console.print(
            f"  created the encryption key file {prepared.key_file} (0600). Back it up: "
            "without it, stored credentials cannot be read.",
            soft_wrap=True,
        )
    if prepared.secret_key is not None:
        console.print("  [bold]secret key[/] (shown once; stored only as a hash and encrypted):")
        console.print(f"    {prepared.secret_key}", soft_wrap=True)
        console.print("  Send it as 'Authorization: Bearer <secret key>' (the apiKey of @nangohq/node).")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port`` (port 0 picks a free one, which can be printed)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    sock.set_inheritable(True)
    return sock


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 3003,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request line.")
    ] = True,
) -> None:
    """Run the HTTP API, proxy and Connect UI (SQLite in the data directory unless configured)."""
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    settings = server_settings(host, bound)
    redactor = configure_logging(settings.log_level)
    for secret in (settings.secret_key, settings.webhook_signing_key, settings.encryption_key):
        if secret is not None:
            redactor.add([secret.get_secret_value()])
    database = sqlite_file(settings.resolved_database_url)
    lock = guard_sqlite(settings, database)
    try:
        prepared = asyncio.run(prepare(settings))
    except ConfigurationError as exc:
        fail(exc.message, code=2)
    shown = f"[{host}]" if ":" in host else host
    announce(settings, prepared, listen=f"http://{shown}:{bound}")
    redactor.add([prepared.secret_key])
    config = _server.config(
        create_app(settings, sync_role="api"),
        log_config=None,
        access_log=access_log,
        server_header=False,
        lifespan="on",
    )
    try:
        run_until_stopped(_server.Server(config), sock)
    finally:
        if lock is not None:
            lock.release()


def guard_sqlite(settings: Settings, database: Path | None) -> ServeLock | None:
    """On SQLite: refuse a second ``serve`` of the same database, warn about readable files.

    Returns:
        The held lock (the kernel drops it when this process ends), or None on PostgreSQL.
    """
    if database is None:
        return None
    create_private_directory(database.parent)
    lock = ServeLock(database)
    try:
        lock.acquire()
    except ConfigurationError as exc:
        fail(exc.message, code=2)
    key_file = key_file_path(settings.data_dir) if settings.encryption_key is None else None
    for warning in wide_permissions(database.parent, database, key_file):
        err_console.print(f"[bold yellow]Warning:[/] {warning}", soft_wrap=True)
    return lock


def run_until_stopped(server: uvicorn.Server, sock: socket.socket) -> None:
    """Serve until Ctrl-C or SIGTERM, then shut down cleanly and exit with status 0."""
    # uvicorn shuts down gracefully, then re-raises the signal it caught; both end here quietly.
    previous = signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.print("billbridge stopped.")


def _exit_quietly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)
