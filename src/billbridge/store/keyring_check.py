"""Open the keyring only if it can read what is stored: a lost key is never silently replaced."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from billbridge.errors import ConfigurationError
from billbridge.store.crypto import Keyring
from billbridge.store.db import Database
from billbridge.store.keyfile import KEY_FILE_NAME, key_file_path
from billbridge.store.models import SECRET_COLUMNS, ApiKeyRow, ConnectionRow

if TYPE_CHECKING:
    from billbridge.settings import Settings


class MissingKeyError(ConfigurationError):
    """Stored secrets name keys the keyring lacks; the message says how to restore them."""

    default_code = "missing_encryption_key"


async def stored_key_ids(db: Database) -> set[str]:
    """The ids of every key that encrypted a stored secret (connections and API keys)."""
    columns = [getattr(ConnectionRow, column) for column in SECRET_COLUMNS]
    ids: set[str] = set()
    async with db.session() as session:
        for row in await session.execute(select(*columns)):
            ids.update(_key_ids(tuple(row)))
        for (token,) in await session.execute(select(ApiKeyRow.key_enc)):
            ids.update(_key_ids((token,)))
    return ids


def _key_ids(tokens: tuple[str | None, ...]) -> set[str]:
    found = (Keyring.key_id_of(token) for token in tokens if token)
    return {key_id for key_id in found if key_id}


async def open_keyring(settings: Settings, db: Database) -> Keyring:
    """The configured keyring, after checking that it holds every key the database names.

    Without ``BILLBRIDGE_ENCRYPTION_KEY``, a missing key file is created only for a database that
    stores no secret yet: for any other, a new key could never read what is stored.

    Raises:
        MissingKeyError: a stored secret names a key id the keyring (or a missing key file) lacks.
    """
    stored = await stored_key_ids(db)
    from_file = settings.encryption_key is None
    if from_file and stored and not key_file_path(settings.data_dir).exists():
        raise MissingKeyError(_message(sorted(stored), lost_file=True))
    keyring = Keyring.from_settings(settings)
    missing = sorted(stored - set(keyring.key_ids))
    if missing:
        raise MissingKeyError(_message(missing, lost_file=False, from_file=from_file))
    return keyring


def _message(missing: list[str], *, lost_file: bool, from_file: bool = True) -> str:
    ids = ", ".join(missing)
    if lost_file:
        problem = (
            f"the key file {KEY_FILE_NAME} is missing from the data directory, and the database "
            f"holds credentials encrypted with key id {ids}"
        )
    else:
        where = f"the key file {KEY_FILE_NAME}" if from_file else "BILLBRIDGE_ENCRYPTION_KEY"
        problem = f"the database holds credentials encrypted with key id {ids}, which {where} lacks"
    return (
        f"Refusing to start: {problem}. Restore the key file {KEY_FILE_NAME} from your backup into "
        f"the data directory, or set BILLBRIDGE_ENCRYPTION_KEY to a keyring that includes {ids} "
        "('id:base64key' entries separated by commas). A new key could never read them."
    )
