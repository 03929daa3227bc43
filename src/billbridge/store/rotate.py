"""Key rotation: re-encrypt every stored secret under the keyring's newest key."""

from __future__ import annotations

from sqlalchemy import select

from billbridge.store.api_keys import api_key_aad
from billbridge.store.codec import ConnectionCodec
from billbridge.store.crypto import Keyring
from billbridge.store.db import Database
from billbridge.store.domain import RotationResult
from billbridge.store.models import SECRET_COLUMNS, ApiKeyRow, ConnectionRow


async def rotate_keys(db: Database, keyring: Keyring) -> RotationResult:
    """Re-encrypt all secrets under ``keyring``'s first key, in one transaction.

    Every key that encrypted something must still be in ``keyring``; afterwards only the first
    is needed. Rows are locked for the duration, so concurrent writers wait instead of racing.

    Raises:
        DecryptionError: a secret does not open under any key (nothing is changed then).
    """
    codec = ConnectionCodec(keyring)
    connections = fields = api_keys = 0
    async with db.transaction() as session:
        rows = (await session.execute(select(ConnectionRow).with_for_update())).scalars().all()
        for row in rows:
            for column, field in SECRET_COLUMNS.items():
                token = getattr(row, column)
                if token is None:
                    continue
                setattr(row, column, codec.seal(row, field, codec.open(row, field, token)))
                fields += 1
            connections += 1
        key_rows = (await session.execute(select(ApiKeyRow).with_for_update())).scalars().all()
        for key_row in key_rows:
            if key_row.key_enc is not None:
                aad = api_key_aad(key_row.kind)
                key_row.key_enc = keyring.encrypt(keyring.decrypt(key_row.key_enc, aad=aad), aad=aad)
                api_keys += 1
    return RotationResult(
        key_id=keyring.primary_id, connections=connections, fields=fields, api_keys=api_keys
    )
