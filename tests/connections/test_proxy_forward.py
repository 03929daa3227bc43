"""Proxy against the in-process simulator: auth injection, pass-through, replay, limits."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from keeper_harness import PROTECTED_OPERATION, SIM_GATEWAY, Harness, count_statements

from billbridge.bill import Limits
from billbridge.connections import utc_now
from billbridge.errors import RateLimitError, ValidationError
from billbridge.simulator import SimConfig, create_app
from billbridge.store import Connection, Database, Keyring


def _json(raw: Any) -> Any:
    return orjson.loads(raw.body)


async def _call_until_refused(harness: Harness, conn: Connection, path: str, *, attempts: int) -> None:
    for _ in range(attempts):
        await harness.proxy.forward(conn, method="GET", path=path)


async def test_get_is_forwarded_with_query(harness: Harness, conn: Connection) -> None:
    raw = await harness.proxy.forward(conn, method="GET", path="/v3/vendors", query=[("max", "2")])
    assert raw.status == 200
    body = _json(raw)
    assert len(body["results"]) == 2
    names = {name.lower() for name, _ in raw.headers}
    assert "content-type" in names
    assert not names & {"content-length", "transfer-encoding", "connection", "content-encoding"}


async def test_caller_auth_headers_are_replaced(harness: Harness, conn: Connection) -> None:
    raw = await harness.proxy.forward(
        conn,
        method="GET",
        path="v3/vendors",
        query=[("max", "1")],
        headers={"sessionId": "stale", "DEVKEY": "other", "Authorization": "Bearer x", "X-Trace": "1"},
    )
    assert raw.status == 200


async def test_post_body_is_passed_through(harness: Harness, conn: Connection) -> None:
    payload = {
        "name": "Proxy Vendor Ltd",
        "accountType": "BUSINESS",
        "email": "ap@proxy-vendor.example",
        "phone": "5550100",
    }
    raw = await harness.proxy.forward(
        conn,
        method="POST",
        path="/v3/vendors",
        headers={"Content-Type": "application/json"},
        body=orjson.dumps(payload),
    )
    assert raw.status in (200, 201), raw.body
    created = _json(raw)
    fetched = await harness.proxy.forward(conn, method="GET", path=f"/v3/vendors/{created['id']}")
    assert _json(fetched)["name"] == "Proxy Vendor Ltd"


async def test_bdc_1109_is_answered_with_one_login_and_one_replay(harness: Harness, conn: Connection) -> None:
    (await harness.sim.post("/_sim/sessions/invalidate", json={})).raise_for_status()
    before = await harness.logins()
    raw = await harness.proxy.forward(conn, method="GET", path="/v3/vendors", query=[("max", "1")])
    assert raw.status == 200
    assert await harness.logins() == before + 1


async def test_many_callers_hitting_bdc_1109_cause_one_login(harness: Harness, conn: Connection) -> None:
    await harness.proxy.forward(conn, method="GET", path="/v3/vendors", query=[("max", "1")])
    (await harness.sim.post("/_sim/sessions/invalidate", json={})).raise_for_status()
    before = await harness.logins()
    answers = await asyncio.gather(
        *(harness.proxy.forward(conn, method="GET", path="/v3/vendors") for _ in range(50))
    )
    assert {a.status for a in answers} == {200}
    assert await harness.logins() == before + 1


async def test_untrusted_answer_is_passed_through_without_login(harness: Harness, conn: Connection) -> None:
    method, path, body = PROTECTED_OPERATION
    before = await harness.logins()
    raw = await harness.proxy.forward(
        conn, method=method, path=path, headers={"Content-Type": "application/json"}, body=orjson.dumps(body)
    )
    assert raw.status == 403
    assert _json(raw)[0]["code"] == "BDC_1361"
    assert await harness.logins() == before


async def test_spend_calls_carry_the_api_token(harness: Harness, conn: Connection) -> None:
    raw = await harness.proxy.forward(conn, method="GET", path="/v3/spend/users")
    assert raw.status == 200, raw.body


async def test_spend_call_without_api_token_is_refused(harness: Harness) -> None:
    conn = await harness.link("no-token", credentials=harness.credentials(with_api_token=False))
    before = (await harness.stats())["requests"]
    with pytest.raises(ValidationError, match="API token") as caught:
        await harness.proxy.forward(conn, method="GET", path="/v3/spend/users")
    assert caught.value.code == "missing_api_token"
    assert (await harness.stats())["requests"] == before


@pytest.mark.parametrize("path", ["/v3/../v2/x", "/v3/%2e%2e/x", "https://evil.example/v3/x", "/v3/logout"])
async def test_bad_paths_never_reach_bill(harness: Harness, conn: Connection, path: str) -> None:
    before = (await harness.stats())["requests"]
    with pytest.raises(ValidationError):
        await harness.proxy.forward(conn, method="GET", path=path)
    assert (await harness.stats())["requests"] == before


@pytest.mark.parametrize("override", [SIM_GATEWAY, SIM_GATEWAY + "/connect", SIM_GATEWAY + "/", ""])
async def test_base_url_override_to_the_configured_gateway(
    harness: Harness, conn: Connection, override: str
) -> None:
    raw = await harness.proxy.forward(conn, method="GET", path="/v3/vendors", base_url_override=override)
    assert raw.status == 200


@pytest.mark.parametrize(
    "override", ["http://production.test", "https://evil.example", "http://sim.test.evil.example"]
)
async def test_base_url_override_elsewhere_is_refused(
    harness: Harness, conn: Connection, override: str
) -> None:
    with pytest.raises(ValidationError, match="Base-Url-Override"):
        await harness.proxy.forward(conn, method="GET", path="/v3/vendors", base_url_override=override)


async def test_retries_apply_to_reads_only(harness: Harness, conn: Connection) -> None:
    await harness.proxy.forward(conn, method="GET", path="/v3/vendors", query=[("max", "1")])
    (await harness.sim.post("/_sim/faults", json={"error_rate": 1.0})).raise_for_status()
    before = (await harness.stats())["requests"]
    raw = await harness.proxy.forward(conn, method="GET", path="/v3/vendors", retries=1)
    assert raw.status >= 500
    assert (await harness.stats())["requests"] == before + 2
    before = (await harness.stats())["requests"]
    raw = await harness.proxy.forward(
        conn,
        method="POST",
        path="/v3/vendors",
        headers={"Content-Type": "application/json"},
        body=b'{"name": "Never Twice"}',
        retries=1,
    )
    assert raw.status >= 500
    assert (await harness.stats())["requests"] == before + 1


async def test_bad_retries_value_is_refused(harness: Harness, conn: Connection) -> None:
    with pytest.raises(ValidationError):
        await harness.proxy.forward(conn, method="GET", path="/v3/vendors", retries=-1)


async def test_at_most_three_in_flight_per_organization(harness: Harness, conn: Connection) -> None:
    (await harness.sim.post("/_sim/faults", json={"latency_ms": 20})).raise_for_status()
    answers = await asyncio.gather(
        *(harness.proxy.forward(conn, method="GET", path="/v3/vendors") for _ in range(24))
    )
    assert {a.status for a in answers} == {200}
    stats = await harness.stats()
    assert stats["peak_in_flight"] == 3
    assert "BDC_1322" not in stats["errors"]


async def test_bill_hourly_limit_becomes_rate_limit_error(database: Database, keyring: Keyring) -> None:
    harness = Harness(
        app=create_app(SimConfig(records=5, request_budget=3)), database=database, keyring=keyring
    )
    await harness.start()
    try:
        conn = await harness.link()  # the login is the first request of the hour
        # Two calls pass; the top of the hour in between would only let a few more pass.
        with pytest.raises(RateLimitError) as caught:
            await _call_until_refused(harness, conn, "/v3/vendors", attempts=8)
        assert caught.value.code == "BDC_1144"
        assert caught.value.reset_at.minute == 0
        assert caught.value.reset_at.second == 0
    finally:
        await harness.aclose()


async def test_local_budget_exhaustion_becomes_rate_limit_error(
    database: Database, keyring: Keyring, sim_config: SimConfig
) -> None:
    harness = Harness(
        app=create_app(sim_config), database=database, keyring=keyring, limits=Limits(requests_per_hour=2)
    )
    await harness.start()
    try:
        conn = await harness.link()
        await harness.proxy.forward(conn, method="GET", path="/v3/vendors")
        before = (await harness.stats())["requests"]
        with pytest.raises(RateLimitError):
            await harness.proxy.forward(conn, method="GET", path="/v3/vendors")
        assert (await harness.stats())["requests"] == before
    finally:
        await harness.aclose()


async def test_hot_path_does_not_touch_the_database(harness: Harness, conn: Connection) -> None:
    cached = await harness.keeper.lookup(conn.connection_id, conn.provider_config_key)
    await harness.proxy.forward(cached, method="GET", path="/v3/vendors")
    await harness.keeper.aclose()  # the first use is recorded in the background
    with count_statements(harness.database) as statements:
        for _ in range(30):
            found = await harness.keeper.lookup(conn.connection_id, conn.provider_config_key)
            raw = await harness.proxy.forward(found, method="GET", path="/v3/vendors")
            assert raw.status == 200
        await harness.keeper.aclose()
    assert statements == []


async def test_spend_per_minute_limit_becomes_rate_limit_error(database: Database, keyring: Keyring) -> None:
    harness = Harness(
        app=create_app(SimConfig(records=5, spend_per_minute=2)), database=database, keyring=keyring
    )
    await harness.start()
    try:
        conn = await harness.link()
        # Two calls pass; a minute boundary in between would only make a few more pass.
        with pytest.raises(RateLimitError) as caught:
            await _call_until_refused(harness, conn, "/v3/spend/users", attempts=6)
        wait = (caught.value.reset_at - utc_now()).total_seconds()
        assert 0 < wait <= 60
    finally:
        await harness.aclose()
