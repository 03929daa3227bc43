"""Idempotency keys in the store: claim once, answer encrypted at rest, 24 h life, purge."""

from __future__ import annotations

import asyncio
import base64

import pytest
from sqlalchemy import select, update
from store_samples import FakeClock, link

from billbridge.errors import DecryptionError
from billbridge.store import (
    ConnectionRepository,
    Database,
    IdempotencyRepository,
    Keyring,
    StoredAnswer,
)
from billbridge.store.idempotency import key_digest
from billbridge.store.models import IdempotencyRow

BODY = b'{"id":"00901SECRETVENDOR0001","name":"Confidential Supplies Ltd"}'
ANSWER = StoredAnswer(201, (("content-type", "application/json"),), BODY)


@pytest.fixture
def keys(database: Database, keyring: Keyring, clock: FakeClock) -> IdempotencyRepository:
    return IdempotencyRepository(database, keyring, clock=clock)


async def _pk(connections: ConnectionRepository, connection_id: str = "conn-1") -> int:
    conn, _ = await link(connections, connection_id)
    return conn.pk


async def test_the_first_claim_wins_and_the_next_sees_it_pending(
    keys: IdempotencyRepository, connections: ConnectionRepository
) -> None:
    pk = await _pk(connections)
    assert await keys.claim(pk, "key-1", "req-a") is None

    again = await keys.claim(pk, "key-1", "req-a")

    assert again is not None
    assert (again.state, again.request_hash, again.answer) == ("pending", "req-a", None)


async def test_concurrent_claims_have_exactly_one_winner(
    keys: IdempotencyRepository, connections: ConnectionRepository
) -> None:
    pk = await _pk(connections)

    outcomes = await asyncio.gather(*(keys.claim(pk, "key-1", "req-a") for _ in range(8)))

    assert sum(outcome is None for outcome in outcomes) == 1


async def test_a_completed_key_gives_back_its_answer(
    keys: IdempotencyRepository, connections: ConnectionRepository
) -> None:
    pk = await _pk(connections)
    await keys.claim(pk, "key-1", "req-a")
    await keys.complete(pk, "key-1", ANSWER)

    record = await keys.claim(pk, "key-1", "req-a")

    assert record is not None
    assert (record.state, record.answer) == ("done", ANSWER)
    assert await keys.get(pk, "key-1") == record


async def test_keys_are_per_connection(
    keys: IdempotencyRepository, connections: ConnectionRepository
) -> None:
    first, second = await _pk(connections, "conn-1"), await _pk(connections, "conn-2")
    await keys.claim(first, "shared-key", "req-a")

    assert await keys.claim(second, "shared-key", "req-b") is None


async def test_the_answer_is_ciphertext_at_rest_and_the_key_only_a_hash(
    keys: IdempotencyRepository, connections: ConnectionRepository, database: Database
) -> None:
    pk = await _pk(connections)
    await keys.claim(pk, "customer-key-123", "req-a")
    await keys.complete(pk, "customer-key-123", ANSWER)

    async with database.session() as session:
        row = (await session.execute(select(IdempotencyRow))).scalar_one()
    stored = " ".join(str(value) for value in vars(row).values())
    for plain in (BODY.decode(), "Confidential", base64.b64encode(BODY).decode()[:20], "customer-key-123"):
        assert plain not in stored
    assert row.answer_enc is not None
    assert row.answer_enc.startswith("bbk1:")
    assert row.key_hash == key_digest("customer-key-123")


async def test_an_answer_moved_to_another_key_does_not_open(
    keys: IdempotencyRepository, connections: ConnectionRepository, database: Database
) -> None:
    pk = await _pk(connections)
    for key in ("key-1", "key-2"):
        await keys.claim(pk, key, "req-a")
    await keys.complete(pk, "key-1", ANSWER)
    async with database.transaction() as session:
        done = select(IdempotencyRow.answer_enc).where(IdempotencyRow.answer_enc.is_not(None))
        sealed = (await session.execute(done)).scalar_one()
        await session.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.key_hash == key_digest("key-2"))
            .values(state="done", status=201, answer_enc=sealed)
        )

    with pytest.raises(DecryptionError):
        await keys.get(pk, "key-2")


async def test_a_key_expires_after_24_hours_and_may_be_used_again(
    keys: IdempotencyRepository, connections: ConnectionRepository, clock: FakeClock
) -> None:
    pk = await _pk(connections)
    await keys.claim(pk, "key-1", "req-a")
    await keys.complete(pk, "key-1", ANSWER)

    clock.advance(hours=23, minutes=59)
    assert (await keys.get(pk, "key-1")) is not None
    clock.advance(minutes=1)

    assert await keys.get(pk, "key-1") is None
    assert await keys.claim(pk, "key-1", "req-b") is None
    record = await keys.get(pk, "key-1")
    assert record is not None
    assert (record.state, record.request_hash) == ("pending", "req-b")


async def test_expired_keys_are_purged(
    keys: IdempotencyRepository, connections: ConnectionRepository, clock: FakeClock, database: Database
) -> None:
    pk = await _pk(connections)
    for key in ("old-1", "old-2"):
        await keys.claim(pk, key, "req-a")
    clock.advance(hours=23)
    await keys.claim(pk, "new", "req-a")
    clock.advance(hours=1)

    assert await keys.purge_expired() == 2

    async with database.session() as session:
        left = (await session.execute(select(IdempotencyRow.key_hash))).scalars().all()
    assert left == [key_digest("new")]


async def test_an_abandoned_claim_is_taken_over_after_its_lease(
    keys: IdempotencyRepository, connections: ConnectionRepository, clock: FakeClock
) -> None:
    pk = await _pk(connections)
    await keys.claim(pk, "key-1", "req-a")

    clock.advance(minutes=9)
    assert await keys.claim(pk, "key-1", "req-a") is not None
    clock.advance(minutes=1)
    assert await keys.claim(pk, "key-1", "req-a") is None


async def test_a_released_claim_frees_the_key(
    keys: IdempotencyRepository, connections: ConnectionRepository
) -> None:
    pk = await _pk(connections)
    await keys.claim(pk, "key-1", "req-a")
    await keys.release(pk, "key-1")

    assert await keys.get(pk, "key-1") is None
    assert await keys.claim(pk, "key-1", "req-b") is None


async def test_deleting_the_connection_deletes_its_keys(
    keys: IdempotencyRepository, connections: ConnectionRepository, database: Database
) -> None:
    pk = await _pk(connections)
    await keys.claim(pk, "key-1", "req-a")
    await connections.delete(pk)

    async with database.session() as session:
        assert (await session.execute(select(IdempotencyRow))).first() is None
