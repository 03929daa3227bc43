"""``billbridge keys``: make encryption keys and re-encrypt stored secrets under the newest one."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from billbridge.cli import app
from billbridge.cli._output import console, err_console, fail, load_settings
from billbridge.errors import BillbridgeError
from billbridge.settings import Settings
from billbridge.store import Database, Keyring, RotationResult, generate_key, rotate_keys
from billbridge.store.keyfile import key_file_path, load_or_create_key_file, read_key_file, write_key_file

keys_app = typer.Typer(
    name="keys",
    help="Manage the encryption keys that protect stored credentials.",
    no_args_is_help=True,
)
app.add_typer(keys_app)


@keys_app.command("generate")
def generate(
    key_id: Annotated[str | None, typer.Option("--id", help="Key id (letters, digits, '_' or '-').")] = None,
) -> None:
    """Print a new key line for BILLBRIDGE_ENCRYPTION_KEY (it is shown only here, only once)."""
    try:
        key = generate_key(key_id)
    except BillbridgeError as exc:
        fail(exc.message, code=2)
    # The key goes to standard output alone, so it can be piped into a secret store.
    typer.echo(key.line())
    err_console.print(
        "Put this entry first in BILLBRIDGE_ENCRYPTION_KEY (entries are comma-separated, newest first), "
        "keep the old entries after it, restart every billbridge process, then run "
        "[bold]billbridge keys rotate[/]."
    )


@keys_app.command("rotate")
def rotate(
    new_key: Annotated[
        bool, typer.Option("--new-key", help="Key file only: add a fresh key first, then re-encrypt.")
    ] = False,
    drop_old_keys: Annotated[
        bool,
        typer.Option("--drop-old-keys", help="Key file only: remove the other keys after re-encrypting."),
    ] = False,
) -> None:
    """Re-encrypt every stored secret under the newest key, in one transaction.

    Running processes keep encrypting with the key that was first when they started: restart
    them before removing an old key (``--drop-old-keys`` re-encrypts once more, then removes).
    """
    settings = load_settings()
    using_env = settings.encryption_key is not None
    if using_env and (new_key or drop_old_keys):
        fail(
            "--new-key and --drop-old-keys change the key file, but BILLBRIDGE_ENCRYPTION_KEY is set: "
            "use `billbridge keys generate` and edit the variable instead.",
            code=2,
        )
    try:
        if new_key:
            _prepend_new_key(settings)
        keyring = Keyring.from_settings(settings)
        result = asyncio.run(_rotate(settings, keyring))
        if drop_old_keys:
            write_key_file(key_file_path(settings.data_dir), keyring.keys[:1])
    except BillbridgeError as exc:
        fail(exc.message)
    console.print(
        f"Re-encrypted {result.fields} secrets of {result.connections} connections "
        f"and {result.api_keys} API keys under key [bold]{result.key_id}[/]."
    )
    others = [k for k in keyring.key_ids if k != result.key_id]
    if others and not drop_old_keys:
        where = "BILLBRIDGE_ENCRYPTION_KEY" if using_env else "the key file (`keys rotate --drop-old-keys`)"
        console.print(
            f"Once every billbridge process runs with key {result.key_id} first, run this command again "
            f"and remove {', '.join(others)} from {where}: a process started earlier may still write "
            "under an old key."
        )


async def _rotate(settings: Settings, keyring: Keyring) -> RotationResult:
    db = await Database.open(settings)
    try:
        return await rotate_keys(db, keyring)
    finally:
        await db.close()


def _prepend_new_key(settings: Settings) -> None:
    path = key_file_path(settings.data_dir)
    if not path.exists():
        load_or_create_key_file(path)  # a new file holds a new key already
        return
    write_key_file(path, [generate_key(), *read_key_file(path)])
