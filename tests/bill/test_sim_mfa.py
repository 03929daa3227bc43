"""MFA against the simulator: phone setup, challenge, remember-me logins, step-up, untrusted refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from billbridge.bill import BillClient, SessionAuth
from billbridge.errors import BadRequestError, MfaError, UntrustedSessionError

from .conftest import Demo, log_in, sim_stats

BANK = {
    "nameOnAccount": "Ops",
    "routingNumber": "021000021",
    "accountNumber": "123456789",
    "type": "CHECKING",
}


async def code_for(sim_http: httpx.AsyncClient, pending_id: str) -> str:
    codes = (await sim_http.get("/_sim/mfa/codes")).json()["codes"]
    return str(next(c["code"] for c in codes if c["id"] == pending_id))


async def test_untrusted_session_is_refused_once_without_retry(
    sim_client: BillClient, session: SessionAuth, sim_http: httpx.AsyncClient
) -> None:
    with pytest.raises(UntrustedSessionError) as caught:
        await sim_client.request("POST", "/v3/funding-accounts/banks", auth=session, json=BANK)
    assert caught.value.code == "BDC_1361"
    assert caught.value.http_status == 403
    counts = await sim_stats(sim_http)
    assert counts["errors"] == {"BDC_1361": 1}
    assert counts["logins"] == 1  # no re-login either


async def test_challenge_trusts_the_session_and_remember_me_trusts_later_logins(
    sim_client: BillClient, session: SessionAuth, sim_http: httpx.AsyncClient, demo: Demo
) -> None:
    challenge_id = await sim_client.mfa_challenge(session)
    with pytest.raises(MfaError) as wrong:
        await sim_client.mfa_challenge_validate(session, challenge_id=challenge_id, token="000000x")
    assert wrong.value.code == "BDC_1374"
    remember_me_id = await sim_client.mfa_challenge_validate(
        session,
        challenge_id=challenge_id,
        token=await code_for(sim_http, challenge_id),
        remember_me=True,
        device="office-laptop",
        machine_name="billbridge-tests",
    )
    assert remember_me_id
    created = await sim_client.request("POST", "/v3/funding-accounts/banks", auth=session, json=BANK)
    assert created["id"].startswith("bac")

    trusted = await sim_client.login(**demo.login_args(remember_me_id=remember_me_id, device="office-laptop"))
    assert trusted.trusted is True
    # The remember-me ID is bound to its device.
    other_device = await sim_client.login(
        **demo.login_args(remember_me_id=remember_me_id, device="someone-else")
    )
    assert other_device.trusted is False

    # Step-up makes a fresh untrusted session trusted without logging in again.
    plain = await log_in(sim_client, demo)
    with pytest.raises(UntrustedSessionError):
        await sim_client.request("POST", "/v3/funding-accounts/banks", auth=plain, json=BANK)
    await sim_client.mfa_step_up(plain, remember_me_id=remember_me_id, device="office-laptop")
    again = await sim_client.request("POST", "/v3/funding-accounts/banks", auth=plain, json=BANK)
    assert again["id"] != created["id"]


async def test_validate_without_remember_me_returns_none(
    sim_client: BillClient, session: SessionAuth, sim_http: httpx.AsyncClient
) -> None:
    challenge_id = await sim_client.mfa_challenge(session)
    token = await code_for(sim_http, challenge_id)
    assert await sim_client.mfa_challenge_validate(session, challenge_id=challenge_id, token=token) is None


async def test_bad_step_up_is_an_mfa_error(sim_client: BillClient, session: SessionAuth) -> None:
    with pytest.raises(MfaError):
        await sim_client.mfa_step_up(session, remember_me_id="not-a-remember-me-id", device="x")


async def test_phone_setup_then_challenge(
    sim_client: BillClient, sim_http: httpx.AsyncClient, sim_world: dict[str, Any], demo: Demo
) -> None:
    org = sim_world["organizations"][0]
    user = next(u for u in org["users"] if not u["mfa_phone"] and not u["locked"])
    auth = await log_in(
        sim_client, demo, username=user["username"], password=user["password"], organization_id=org["id"]
    )
    with pytest.raises(BadRequestError):
        await sim_client.mfa_challenge(auth)  # no phone registered yet
    setup_id = await sim_client.mfa_setup(auth, phone="+1 555 010 9999", type="TEXT")
    answer = await sim_client.mfa_setup_validate(
        auth, setup_id=setup_id, type="TEXT", token=await code_for(sim_http, setup_id)
    )
    assert answer.get("phone") == "+1 555 010 9999"
    challenge_id = await sim_client.mfa_challenge(auth)
    await sim_client.mfa_challenge_validate(
        auth, challenge_id=challenge_id, token=await code_for(sim_http, challenge_id)
    )
    phones = await sim_client.request("GET", "/v3/mfa/phones", auth=auth)
    assert [p["phone"] for p in phones["results"]] == ["+1 555 010 9999"]
