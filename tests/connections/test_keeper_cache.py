"""The keeper's connection cache: no database read per request, yet changes elsewhere are seen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from keeper_harness import Harness, count_statements

from billbridge.connections.connection_cache import ConnectionCache
from billbridge.errors import NotFoundError
from billbridge.store import Connection


async def test_lookup_reads_the_database_once(harness: Harness, conn: Connection) -> None:
    with count_statements(harness.database) as statements:
        first = await harness.keeper.lookup(conn.connection_id, "bill-sandbox")
        reads = len(statements)
        for _ in range(20):
            again = await harness.keeper.lookup(conn.connection_id, "bill-sandbox")
    assert reads >= 1
    assert len(statements) == reads
    assert again is first


async def test_lookup_of_an_unknown_connection(harness: Harness, conn: Connection) -> None:
    with pytest.raises(NotFoundError) as caught:
        await harness.keeper.lookup("nobody", "bill-sandbox")
    assert caught.value.code == "unknown_connection"
    with pytest.raises(NotFoundError):
        await harness.keeper.lookup(conn.connection_id, "bill")


async def test_deletion_elsewhere_is_noticed_after_the_ttl(harness: Harness, conn: Connection) -> None:
    await harness.keeper.lookup(conn.connection_id, "bill-sandbox")
    assert await harness.repo.delete(conn.pk)  # another process deleted it
    await harness.keeper.lookup(conn.connection_id, "bill-sandbox")  # still cached
    await harness.advance(16)
    await harness.keeper.lookup(conn.connection_id, "bill-sandbox")  # served, revalidated behind
    await harness.keeper.aclose()
    with pytest.raises(NotFoundError):
        await harness.keeper.lookup(conn.connection_id, "bill-sandbox")


async def test_relink_elsewhere_is_adopted_without_a_login(harness: Harness, conn: Connection) -> None:
    cached = await harness.keeper.lookup(conn.connection_id, "bill-sandbox")
    await harness.keeper.live_session(cached)
    relinked = await harness.link(conn.connection_id)  # another process re-linked it
    await harness.advance(16)
    await harness.keeper.lookup(conn.connection_id, "bill-sandbox")
    await harness.keeper.aclose()
    before = await harness.logins()
    fresh = await harness.keeper.lookup(conn.connection_id, "bill-sandbox")
    live = await harness.keeper.live_session(fresh)
    assert live.generation == relinked.session.generation
    assert relinked.session.session_id is not None
    assert live.auth.session_id.get_secret_value() == relinked.session.session_id.get_secret_value()
    assert await harness.logins() == before


async def test_forget_drops_the_cached_row(harness: Harness, conn: Connection) -> None:
    await harness.keeper.lookup(conn.connection_id, "bill-sandbox")
    harness.keeper.forget(conn.pk)
    with count_statements(harness.database) as statements:
        await harness.keeper.lookup(conn.connection_id, "bill-sandbox")
    assert statements


async def test_a_stale_connection_object_does_not_roll_the_session_back(
    harness: Harness, conn: Connection
) -> None:
    renewed = await harness.keeper.refresh(conn)
    live = await harness.keeper.live_session(conn)  # the caller still holds the linked row
    assert live.generation == renewed.generation == conn.session.generation + 1


async def test_the_cache_is_bounded_and_forgets_idle_connections(harness: Harness) -> None:
    # Entries hold decrypted credentials: at most max_entries, none kept unused for long.
    cache = ConnectionCache(harness.repo, clock=harness.clock, ttl=timedelta(seconds=15), max_entries=2)
    conns = [await harness.link(f"conn-{i}", org_index=i) for i in range(3)]
    for conn in conns:
        await cache.lookup(conn.connection_id, "bill-sandbox")
    assert len(cache) == 2  # the least recently used went first
    with count_statements(harness.database) as statements:
        await cache.lookup(conns[2].connection_id, "bill-sandbox")
        assert statements == []
        await cache.lookup(conns[0].connection_id, "bill-sandbox")  # read again
        assert statements
    await harness.advance(2 * 3600)
    with count_statements(harness.database) as statements:
        await cache.lookup(conns[0].connection_id, "bill-sandbox")  # idle too long: read again
        assert statements
    assert len(cache) == 1
    await cache.aclose()
