"""``Proxy.open``: successful answers stream, the organization's slot and lease last as long as the body."""

from __future__ import annotations

import pytest
from keeper_harness import Harness

from billbridge.connections import InFlightLeases, SharedLimits
from billbridge.errors import ConcurrencyLimitError
from billbridge.store import BudgetRepository, Connection, Database


async def _add_big_vendors(harness: Harness, conn: Connection) -> None:
    added = await harness.sim.post(
        "/_sim/objects",
        json={
            "action": "add",
            "family": "vendors",
            "organization_id": conn.credentials.organization_id,
            "count": 20,
            "fields": {"name": "Bulky Vendor", "description": "x" * 50_000},
        },
    )
    added.raise_for_status()


def _in_flight(harness: Harness, conn: Connection) -> int:
    dev_key = conn.credentials.dev_key.get_secret_value()
    return harness.clients.limits.in_flight(dev_key, conn.credentials.organization_id)


async def test_a_large_answer_streams_with_the_slot_held(harness: Harness, conn: Connection) -> None:
    await _add_big_vendors(harness, conn)
    whole = await harness.proxy.forward(conn, method="GET", path="/v3/vendors", query=[("max", "100")])
    async with harness.proxy.open(conn, method="GET", path="/v3/vendors", query=[("max", "100")]) as answer:
        assert answer.status == 200
        assert answer.body is None
        assert _in_flight(harness, conn) == 1
        body = await answer.read()
        assert _in_flight(harness, conn) == 1
        names = {name.lower() for name, _ in answer.headers}
    assert _in_flight(harness, conn) == 0
    assert body == whole.body
    assert len(body) > 1_000_000
    assert "content-length" not in names  # the route declares the length itself
    assert answer.length == len(body)


async def test_leaving_early_releases_the_slot(harness: Harness, conn: Connection) -> None:
    await _add_big_vendors(harness, conn)
    async with harness.proxy.open(conn, method="GET", path="/v3/vendors", query=[("max", "100")]) as answer:
        assert await answer.next_chunk()
    assert _in_flight(harness, conn) == 0


async def test_expired_session_is_replayed_before_anything_streams(
    harness: Harness, conn: Connection
) -> None:
    await _add_big_vendors(harness, conn)
    (await harness.sim.post("/_sim/sessions/invalidate", json={})).raise_for_status()
    before = await harness.logins()
    async with harness.proxy.open(conn, method="GET", path="/v3/vendors", query=[("max", "100")]) as answer:
        assert answer.status == 200
        assert len(await answer.read()) > 1_000_000
    assert await harness.logins() == before + 1
    assert _in_flight(harness, conn) == 0


async def test_error_answers_come_whole(harness: Harness, conn: Connection) -> None:
    async with harness.proxy.open(conn, method="GET", path="/v3/vendors/00900000000000000000") as answer:
        assert answer.status == 404
        assert answer.body is not None
        assert b"BDC_1120" in answer.body


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # advisory locks need it
async def test_the_lease_lasts_until_the_body_is_over(
    harness: Harness, conn: Connection, database: Database
) -> None:
    await _add_big_vendors(harness, conn)
    dev_key = conn.credentials.dev_key.get_secret_value()
    org = conn.credentials.organization_id
    leases = InFlightLeases.for_database(database, slots=1, wait=0.1)
    other = InFlightLeases.for_database(database, slots=1, wait=0.1)
    assert leases is not None
    assert other is not None
    process = harness.other_process(SharedLimits(leases, BudgetRepository(database)))
    try:
        open_call = process.proxy.open(conn, method="GET", path="/v3/vendors", query=[("max", "100")])
        async with open_call as answer:
            assert answer.body is None
            with pytest.raises(ConcurrencyLimitError):
                async with other.hold(dev_key, org):
                    pass
            await answer.read()
        await leases.aclose()  # waits for the background release of the lease
        async with other.hold(dev_key, org) as slot:
            assert slot == 0
    finally:
        await process.aclose()
        await other.aclose()
