"""Idempotency keys of proxied writes: claim a key, store the first answer (encrypted), replay it.

A key lives 24 hours from its claim, within one connection. The answer (status, headers, body) is
encrypted with the keyring; its associated data names the connection and the hashed key, so a
stored answer cannot be moved to another connection or key. Keys are kept as SHA-256 hashes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from billbridge.store.crypto import Keyring, field_aad
from billbridge.store.db import Database
from billbridge.store.domain import Clock, utc_now
from billbridge.store.models import IdempotencyRow, table_of

TTL = timedelta(hours=24)
# A claim older than this is abandoned (its process died): no proxied request runs this long.
LEASE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """An answer to replay. ``body`` is None when it was larger than what is kept."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes | None


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A live key: the request it was first used for and, once that finished, its answer."""

    request_hash: str
    state: Literal["pending", "done"]
    answer: StoredAnswer | None
    expires_at: datetime


def key_digest(key: str) -> str:
    """The stored form of an ``Idempotency-Key`` (the key itself is never stored)."""
    return hashlib.sha256(key.encode()).hexdigest()


def answer_aad(connection_pk: int, key_hash: str) -> bytes:
    return field_aad("idempotency_keys", str(connection_pk), key_hash, "answer")


class IdempotencyRepository:
    """Claims, completes, releases and reads idempotency keys (SQLite or PostgreSQL)."""

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        *,
        clock: Clock = utc_now,
        ttl: timedelta = TTL,
        lease: timedelta = LEASE,
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._clock = clock
        self._ttl = ttl
        self._lease = lease

    async def claim(self, connection_pk: int, key: str, request_hash: str) -> IdempotencyRecord | None:
        """Claim ``key`` for a request; None means the caller now runs it (and must complete or
        release the key), a record means another request holds or held it.

        An expired key, or a pending claim older than the lease, is taken over.
        """
        digest, now = key_digest(key), self._clock()
        insert = postgresql.insert if self._db.is_postgres else sqlite.insert
        fresh = {
            "request_hash": request_hash,
            "state": "pending",
            "status": None,
            "answer_enc": None,
            "claimed_at": now,
            "expires_at": now + self._ttl,
        }
        statement = (
            insert(table_of(IdempotencyRow))
            .values(connection_pk=connection_pk, key_hash=digest, **fresh)
            .on_conflict_do_nothing(index_elements=["connection_pk", "key_hash"])
            .returning(IdempotencyRow.id)
        )
        async with self._db.transaction() as session:
            # On PostgreSQL a concurrent claim's insert makes this one wait for its commit.
            if (await session.execute(statement)).scalar_one_or_none() is not None:
                return None
            query = (
                select(IdempotencyRow)
                .where(IdempotencyRow.connection_pk == connection_pk, IdempotencyRow.key_hash == digest)
                .with_for_update()
            )
            row = (await session.execute(query)).scalar_one()
            if self._claimable(row, now):
                takeover = update(IdempotencyRow).where(IdempotencyRow.id == row.id).values(**fresh)
                await session.execute(takeover)
                return None
            return self._record(row)

    async def get(self, connection_pk: int, key: str) -> IdempotencyRecord | None:
        """The live record of ``key``; None if there is none, or it may be claimed anew."""
        digest = key_digest(key)
        query = select(IdempotencyRow).where(
            IdempotencyRow.connection_pk == connection_pk, IdempotencyRow.key_hash == digest
        )
        async with self._db.session() as session:
            row = (await session.execute(query)).scalar_one_or_none()
        if row is None or self._claimable(row, self._clock()):
            return None
        return self._record(row)

    async def complete(self, connection_pk: int, key: str, answer: StoredAnswer) -> None:
        """Store the answer of the claimed request: from now on it is replayed."""
        digest = key_digest(key)
        sealed = self._keyring.encrypt(_encode(answer), aad=answer_aad(connection_pk, digest))
        async with self._db.transaction() as session:
            await session.execute(
                update(IdempotencyRow)
                .where(IdempotencyRow.connection_pk == connection_pk, IdempotencyRow.key_hash == digest)
                .values(state="done", status=answer.status, answer_enc=sealed)
            )

    async def release(self, connection_pk: int, key: str) -> None:
        """Give a claim up (the request never reached BILL): the key may be used again at once."""
        async with self._db.transaction() as session:
            await session.execute(
                delete(IdempotencyRow).where(
                    IdempotencyRow.connection_pk == connection_pk,
                    IdempotencyRow.key_hash == key_digest(key),
                    IdempotencyRow.state == "pending",
                )
            )

    async def purge_expired(self) -> int:
        """Delete every expired key (the server's housekeeping calls this); returns how many."""
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(IdempotencyRow).where(IdempotencyRow.expires_at <= self._clock())
            )
        return int(result.rowcount) if isinstance(result, CursorResult) else 0

    def _claimable(self, row: IdempotencyRow, now: datetime) -> bool:
        return row.expires_at <= now or (row.state == "pending" and row.claimed_at + self._lease <= now)

    def _record(self, row: IdempotencyRow) -> IdempotencyRecord:
        answer = None
        if row.state == "done" and row.answer_enc is not None:
            plain = self._keyring.decrypt(row.answer_enc, aad=answer_aad(row.connection_pk, row.key_hash))
            answer = _decode(plain)
        state: Literal["pending", "done"] = "done" if row.state == "done" else "pending"
        return IdempotencyRecord(row.request_hash, state, answer, row.expires_at)


def _encode(answer: StoredAnswer) -> str:
    body = base64.b64encode(answer.body).decode() if answer.body is not None else None
    return json.dumps({"status": answer.status, "headers": answer.headers, "body": body})


def _decode(plain: str) -> StoredAnswer:
    data = json.loads(plain)
    body = base64.b64decode(data["body"]) if data["body"] is not None else None
    headers = tuple((str(name), str(value)) for name, value in data["headers"])
    return StoredAnswer(int(data["status"]), headers, body)
