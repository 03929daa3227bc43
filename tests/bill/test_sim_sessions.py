"""Sessions against the simulator: login, logout, session details, idle expiry, wrong environments."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from billbridge.bill import BillClient, SessionAuth
from billbridge.errors import (
    AccountLockedError,
    BadRequestError,
    InvalidCredentialsError,
    InvalidDevKeyError,
    SessionExpiredError,
)
from billbridge.simulator import SimConfig, create_app

from .conftest import Demo, demo_of, sim_bill_client

IDLE = 35 * 60


@pytest.fixture
def sim_config() -> SimConfig:
    # A frozen clock: simulated time moves only when a test advances it.
    return SimConfig(records=20, organizations=2, clock_start=1_750_000_000.0)


async def test_login_opens_a_session(sim_client: BillClient, demo: Demo, sim_world: dict[str, Any]) -> None:
    result = await sim_client.login(
        username=demo.username,
        password=SecretStr(demo.password),
        organization_id=demo.organization_id,
        dev_key=SecretStr(demo.dev_key),
    )
    assert result.organization_id == demo.organization_id
    assert result.user_id == sim_world["organizations"][0]["users"][0]["id"]
    assert result.user_id.startswith("006")
    assert result.trusted is False
    assert set(result.raw) == {"organizationId", "userId", "trusted"}
    info = await sim_client.session_info(result.auth(demo.dev_key))
    assert info["organizationId"] == demo.organization_id
    assert info["userId"] == result.user_id
    assert "mfaStatus" in info


async def test_logout_ends_the_session(sim_client: BillClient, session: SessionAuth) -> None:
    await sim_client.logout(session)
    with pytest.raises(SessionExpiredError) as caught:
        await sim_client.session_info(session)
    assert caught.value.code == "BDC_1109"
    assert caught.value.http_status == 401


async def test_session_dies_after_35_idle_minutes_and_not_before(
    sim_client: BillClient, session: SessionAuth, sim_http: httpx.AsyncClient
) -> None:
    async def advance(seconds: float) -> None:
        (await sim_http.post("/_sim/clock/advance", json={"seconds": seconds})).raise_for_status()

    # One second short of the idle limit, twice in a row: each call resets BILL's timer.
    await advance(IDLE - 1)
    await sim_client.session_info(session)
    await advance(IDLE - 1)
    await sim_client.request("GET", "/v3/vendors", auth=session, params={"max": 1})
    await advance(IDLE)
    with pytest.raises(SessionExpiredError):
        await sim_client.session_info(session)


async def test_invalidated_sessions_raise_session_expired(
    sim_client: BillClient, session: SessionAuth, sim_http: httpx.AsyncClient
) -> None:
    await sim_http.post("/_sim/sessions/invalidate")
    with pytest.raises(SessionExpiredError):
        await sim_client.request("GET", "/v3/vendors", auth=session)


async def test_a_session_only_works_with_its_dev_key(
    sim_client: BillClient, session: SessionAuth, sim_world: dict[str, Any]
) -> None:
    other_key = next(
        k["key"] for k in sim_world["dev_keys"] if k["key"] != session.dev_key.get_secret_value()
    )
    foreign = SessionAuth(SecretStr(other_key), session.session_id, session.organization_id)
    with pytest.raises(SessionExpiredError):
        await sim_client.session_info(foreign)


async def test_wrong_password_and_locked_user(
    sim_client: BillClient, demo: Demo, sim_world: dict[str, Any]
) -> None:
    with pytest.raises(InvalidCredentialsError, match="sandbox environment"):
        await sim_client.login(**demo.login_args(password="not-the-password"))
    locked = [
        (org["id"], user) for org in sim_world["organizations"] for user in org["users"] if user["locked"]
    ]
    assert locked, "the simulated world should hold a locked user"
    org_id, user = locked[0]
    key = next(k["key"] for k in sim_world["dev_keys"] if org_id in k["organization_ids"])
    with pytest.raises(AccountLockedError):
        await sim_client.login(
            username=user["username"], password=user["password"], organization_id=org_id, dev_key=key
        )
    with pytest.raises(BadRequestError) as caught:
        await sim_client.login(**demo.login_args(organization_id="12345"))
    assert caught.value.code == "BDC_1123"


async def test_credentials_of_the_other_environment_are_refused_with_a_message_that_says_so(
    demo: Demo,
) -> None:
    production = create_app(SimConfig(records=5, organizations=2, environment="production"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=production), base_url="http://sim"
    ) as http:
        prod = demo_of((await http.get("/_sim/world")).json())
    async with sim_bill_client(production) as client:
        # Sandbox developer key in production: the key is unknown there.
        with pytest.raises(InvalidDevKeyError) as key_error:
            await client.login(**demo.login_args())
        assert key_error.value.code == "BDC_1102"
        assert "developer key in the sandbox environment" in str(key_error.value)
        assert "other BILL environment" in str(key_error.value)
        # A production key with the sandbox user: BILL knows neither the user nor the organization.
        with pytest.raises(InvalidCredentialsError) as user_error:
            await client.login(**demo.login_args(dev_key=prod.dev_key))
        assert user_error.value.code == "BDC_1101"
        assert "username or password" in str(user_error.value)
        assert "other BILL environment" in str(user_error.value)
        assert demo.password not in str(user_error.value) + repr(user_error.value)
        # The production world's own credentials work there.
        result = await client.login(**prod.login_args())
        assert result.organization_id == prod.organization_id
