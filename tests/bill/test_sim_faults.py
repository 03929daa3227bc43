"""Retries against injected faults: 5xx rates, hanging requests, failing logins; none where unsafe."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from billbridge.bill import BillClient, SessionAuth
from billbridge.bill.transport import TIMED_OUT
from billbridge.errors import BillServerError, BillTransportError, InvalidCredentialsError, InvalidDevKeyError
from billbridge.simulator import SimConfig

from .conftest import Demo, log_in, sim_bill_client, sim_stats


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=20, organizations=1)


async def faults(sim_http: httpx.AsyncClient, **settings: float) -> None:
    (await sim_http.post("/_sim/faults", json=settings)).raise_for_status()


async def test_reads_ride_through_a_5xx_rate(
    sim_app: Starlette, sim_http: httpx.AsyncClient, session: SessionAuth
) -> None:
    async with sim_bill_client(sim_app, max_retries=10) as client:
        await faults(sim_http, error_rate=0.4)
        records = [r async for r in client.iterate("bills", auth=session, max=2)]
        assert len(records) == 20
        assert (await sim_stats(sim_http))["errors"].get("BDC_1001", 0) > 0


async def test_creates_are_not_replayed_after_a_5xx(
    sim_client: BillClient, sim_http: httpx.AsyncClient, session: SessionAuth
) -> None:
    vendor = (await sim_client.request("GET", "/v3/vendors", auth=session, params={"max": 1}))["results"][0]
    await faults(sim_http, error_rate=1.0)
    with pytest.raises(BillServerError):
        await sim_client.request("POST", "/v3/vendors", auth=session, json={"name": "Once Only"})
    assert (await sim_stats(sim_http))["errors"]["BDC_1001"] == 1
    # The same 5xx on an archive, which BILL lets repeat, is retried up to max_retries.
    with pytest.raises(BillServerError):
        await sim_client.request("POST", f"/v3/vendors/{vendor['id']}/archive", auth=session)
    assert (await sim_stats(sim_http))["errors"]["BDC_1001"] == 1 + sim_client.max_retries + 1


async def test_hanging_requests_time_out_and_reads_are_retried(
    sim_app: Starlette, sim_http: httpx.AsyncClient, session: SessionAuth
) -> None:
    async with sim_bill_client(sim_app, timeout=0.2, max_retries=2) as client:
        await faults(sim_http, timeout_rate=1.0, timeout_seconds=30)
        with pytest.raises(BillTransportError) as caught:
            await client.session_info(session)
        assert caught.value.code == TIMED_OUT
        assert caught.value.request == "GET /v3/login/session"
        counts = await sim_stats(sim_http)
        assert counts["in_flight"] == 0  # the abandoned requests let go of their slots
        assert client.limits.in_flight(*session.limit_key) == 0
        # Half the requests hang: retries get every read through.
        await faults(sim_http, timeout_rate=0.5)
        client.max_retries = 12
        for _ in range(3):
            assert (await client.session_info(session))["organizationId"] == session.organization_id


async def test_a_timed_out_create_is_not_replayed(
    sim_app: Starlette, sim_http: httpx.AsyncClient, session: SessionAuth
) -> None:
    async with sim_bill_client(sim_app, timeout=0.2, max_retries=3) as client:
        await faults(sim_http, timeout_rate=1.0, timeout_seconds=30)
        before = (await sim_stats(sim_http))["requests"]
        with pytest.raises(BillTransportError):
            await client.request("POST", "/v3/vendors", auth=session, json={"name": "Once Only"})
        assert (await sim_stats(sim_http))["requests"] == before + 1


async def test_failing_logins_are_retried(
    sim_client: BillClient, sim_http: httpx.AsyncClient, demo: Demo
) -> None:
    await faults(sim_http, fail_logins=2)
    auth = await log_in(sim_client, demo)
    counts = await sim_stats(sim_http)
    assert (counts["logins"], counts["login_failures"]) == (1, 2)
    assert (await sim_client.session_info(auth))["userId"].startswith("006")


async def test_login_retries_are_bounded(
    sim_client: BillClient, sim_http: httpx.AsyncClient, demo: Demo
) -> None:
    await faults(sim_http, fail_logins=50)
    with pytest.raises(BillServerError):
        await log_in(sim_client, demo)
    assert (await sim_stats(sim_http))["login_failures"] == sim_client.max_retries + 1


async def test_credential_refusals_are_not_retried(
    sim_client: BillClient, sim_http: httpx.AsyncClient, demo: Demo
) -> None:
    with pytest.raises(InvalidCredentialsError):
        await sim_client.login(**demo.login_args(password="wrong"))
    with pytest.raises(InvalidDevKeyError):
        await sim_client.login(**demo.login_args(dev_key="X" * 36))
    counts = await sim_stats(sim_http)
    assert counts["login_failures"] == 2
    assert counts["errors"] == {"BDC_1101": 1, "BDC_1102": 1}
