"""MFA: protected operations need a trusted session; challenges, remember-me, step-up, phone setup."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig

from .support import Demo, credentials, error_code, sign_in


@pytest.fixture
def sim_config(frozen_config: SimConfig) -> SimConfig:
    return frozen_config


async def last_code(http: httpx.AsyncClient) -> dict[str, Any]:
    codes: list[dict[str, Any]] = (await http.get("/_sim/mfa/codes")).json()["codes"]
    return codes[-1]


async def trust(demo: Demo, *, device: str | None = None) -> str | None:
    challenge = (await demo.post("/mfa/challenge", {"useBackup": False})).json()["challengeId"]
    code = await last_code(demo.http)
    assert code["id"] == challenge
    body: dict[str, Any] = {"challengeId": challenge, "token": code["code"]}
    if device:
        body |= {"rememberMe": True, "device": device, "machineName": "ci"}
    answer = await demo.post("/mfa/challenge/validate", body)
    assert answer.status_code == 200, answer.text
    remember: str | None = answer.json().get("rememberMeId")
    return remember


async def protected_calls(demo: Demo) -> list[httpx.Response]:
    bill = (await demo.get("/bills", max=1)).json()["results"][0]
    vendor = (await demo.get("/vendors", max=1)).json()["results"][0]
    bank = (await demo.get("/funding-accounts/banks", max=1)).json()["results"][0]
    recurring = (await demo.get("/recurringbills", max=1)).json()["results"][0]
    return [
        await demo.post("/payments", {"billId": bill["id"], "amount": 10, "processDate": "2025-02-01",
                                      "fundingAccount": {"type": "BANK_ACCOUNT", "id": bank["id"]}}),
        await demo.patch(f"/vendors/{vendor['id']}", {"autoPay": {"enabled": True}}),
        await demo.post("/funding-accounts/banks", {"nameOnAccount": "Ops", "routingNumber": "026009593",
                                                     "accountNumber": "1234567"}),
        await demo.patch(f"/funding-accounts/banks/{bank['id']}", {"nameOnAccount": "Renamed"}),
        await demo.patch(f"/recurringbills/{recurring['id']}", {"processingOptions": {"autoPayment": True}}),
    ]  # fmt: skip


async def test_untrusted_session_is_refused_protected_operations(demo: Demo) -> None:
    for response in await protected_calls(demo):
        assert (response.status_code, error_code(response)) == (403, "BDC_1361")
    # Unprotected writes work without MFA.
    vendor = (await demo.get("/vendors", max=1)).json()["results"][0]
    assert (await demo.patch(f"/vendors/{vendor['id']}", {"autoPay": {"enabled": False}})).status_code == 200


async def test_challenge_makes_the_session_trusted(demo: Demo) -> None:
    assert await trust(demo) is None
    for response in await protected_calls(demo):
        assert response.status_code == 200, response.text
    payment = (await demo.get("/payments", max=100)).json()["results"][-1]
    assert payment["status"] == "SCHEDULED"


async def test_remember_me_trusts_later_logins(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    demo = await sign_in(sim_http, sim_world)
    remember = await trust(demo, device="laptop")
    assert remember
    body = credentials(sim_world)
    trusted = await sim_http.post(
        "/connect/v3/login", json={**body, "rememberMeId": remember, "device": "laptop"}
    )
    assert trusted.json()["trusted"] is True
    other_device = await sim_http.post(
        "/connect/v3/login", json={**body, "rememberMeId": remember, "device": "x"}
    )
    assert other_device.json()["trusted"] is False
    other_user = credentials(sim_world, user=1)
    reused = await sim_http.post(
        "/connect/v3/login", json={**other_user, "rememberMeId": remember, "device": "laptop"}
    )
    assert reused.json()["trusted"] is False
    # Valid 30 days.
    await sim_http.post("/_sim/clock/advance", json={"seconds": 30 * 86_400})
    expired = await sim_http.post(
        "/connect/v3/login", json={**body, "rememberMeId": remember, "device": "laptop"}
    )
    assert expired.json()["trusted"] is False


async def test_step_up_trusts_the_current_session(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    first = await sign_in(sim_http, sim_world)
    remember = await trust(first, device="phone")
    second = await sign_in(sim_http, sim_world)
    assert second.login["trusted"] is False
    wrong = await second.post("/mfa/step-up", {"rememberMeId": "nope", "device": "phone"})
    assert (wrong.status_code, error_code(wrong)) == (400, "BDC_1374")
    assert (
        await second.post("/mfa/step-up", {"rememberMeId": remember, "device": "phone"})
    ).status_code == 200
    assert all(r.status_code == 200 for r in await protected_calls(second))


async def test_wrong_tokens_then_too_many(demo: Demo) -> None:
    challenge = (await demo.post("/mfa/challenge")).json()["challengeId"]
    code = (await last_code(demo.http))["code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        answer = await demo.post("/mfa/challenge/validate", {"challengeId": challenge, "token": wrong})
        assert error_code(answer) == "BDC_1374"
    fifth = await demo.post("/mfa/challenge/validate", {"challengeId": challenge, "token": wrong})
    assert error_code(fifth) == "BDC_1358"
    gone = await demo.post("/mfa/challenge/validate", {"challengeId": challenge, "token": code})
    assert error_code(gone) == "BDC_1129"


async def test_challenge_expires_after_ten_minutes(demo: Demo) -> None:
    challenge = (await demo.post("/mfa/challenge")).json()["challengeId"]
    code = (await last_code(demo.http))["code"]
    await demo.http.post("/_sim/clock/advance", json={"seconds": 600})
    answer = await demo.post("/mfa/challenge/validate", {"challengeId": challenge, "token": code})
    assert error_code(answer) == "BDC_1356"


async def test_phone_setup_for_a_user_without_one(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    demo = await sign_in(sim_http, sim_world, user=1)
    assert (await demo.get("/login/session")).json()["mfaStatus"] == "INCOMPLETE"
    assert error_code(await demo.post("/mfa/challenge")) == "BDC_1129"
    assert error_code(await demo.post("/mfa/setup", {"phone": "+15550001111", "type": "SMS"})) == "BDC_1129"
    setup = (await demo.post("/mfa/setup", {"phone": "+15550001111", "type": "TEXT"})).json()["setupId"]
    code = await last_code(sim_http)
    assert (code["kind"], code["phone"]) == ("setup", "+15550001111")
    # Both documented spellings of the validate path are accepted.
    answer = await demo.post("/mfa/setup/validate", {"setupId": setup, "type": "TEXT", "token": code["code"]})
    assert answer.status_code == 200
    assert (await demo.get("/mfa/phones")).json()["results"] == [{"phone": "+15550001111", "primary": True}]
    assert (await demo.get("/login/session")).json()["mfaStatus"] == "COMPLETE"
    await trust(demo)
    assert all(r.status_code == 200 for r in await protected_calls(demo))


async def test_mfa_can_be_switched_off() -> None:
    from .support import client_for

    async with client_for(SimConfig(records=5, mfa_enforced=False)) as http:
        world = (await http.get("/_sim/world")).json()
        demo = await sign_in(http, world)
        assert all(r.status_code == 200 for r in await protected_calls(demo))
        assert (await demo.get("/login/session")).json()["mfaBypass"] is True


async def test_vendor_bank_account(demo: Demo) -> None:
    vendor = (await demo.get("/vendors", max=1)).json()["results"][0]["id"]
    path = f"/vendors/{vendor}/bank-account"
    body = {"nameOnAccount": "Acme", "accountNumber": "123456789", "routingNumber": "026009593"}
    assert error_code(await demo.get(path)) == "BDC_1120"
    assert error_code(await demo.post(path, body)) == "BDC_1361"
    await trust(demo)
    created = (await demo.post(path, body)).json()
    assert created["id"].startswith("vba")
    assert len(created["id"]) == 20
    assert created["accountNumber"] == "XXXXXX6789"
    assert (await demo.get(path)).json() == created
    assert error_code(await demo.post(path, body)) == "BDC_1129"  # update = delete + create
    assert (await demo.http.delete(f"/connect/v3{path}", headers=demo.headers)).status_code == 200
    assert error_code(await demo.get(path)) == "BDC_1120"
    assert error_code(await demo.post(path, {"nameOnAccount": "x"})) == "BDC_1108"
