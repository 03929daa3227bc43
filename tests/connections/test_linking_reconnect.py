"""Re-linking keeps BILL's remembered MFA device for the same user and organization, and only then."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keeper_harness import PROTECTED_OPERATION, Harness, integrations
from pydantic import SecretStr

from billbridge.connections import LinkForm, LinkTarget, link_account
from billbridge.store import Connection, ConnectSession

SANDBOX = integrations()["bill-sandbox"]
DEVICE = "billbridge-c1"


def _form(harness: Harness, org_index: int = 0, **changes: Any) -> LinkForm:
    creds = harness.credentials(org_index)
    form = LinkForm(
        username=creds.username,
        password=creds.password,
        organization_id=creds.organization_id,
        dev_key=creds.dev_key,
        api_token=creds.api_token,
    )
    return dataclasses.replace(form, **changes)


def _reconnect_session(connection_id: str) -> ConnectSession:
    now = datetime.now(UTC)
    return ConnectSession(
        pk=1,
        end_user={"id": "u1"},
        organization=None,
        allowed_integrations=None,
        integrations_config_defaults={},
        tags={},
        webhook_url_override=None,
        reconnect=(connection_id, "bill-sandbox"),
        mfa_required=True,
        attempts=0,
        created_at=now,
        expires_at=now + timedelta(minutes=30),
    )


async def _link(harness: Harness, form: LinkForm, **options: Any) -> Connection:
    outcome = await link_account(
        form, integration=SANDBOX, repo=harness.repo, clients=harness.clients, **options
    )
    return outcome.connection


async def _sent_codes(harness: Harness) -> int:
    return len((await harness.sim.get("/_sim/mfa/codes")).json()["codes"])


async def _remember_device(harness: Harness, conn: Connection) -> Connection:
    """Run BILL's MFA challenge with "remember this device", as the Connect UI does, and store it."""
    client = harness.clients.for_integration("bill-sandbox")
    live = await harness.keeper.live_session(conn)
    challenge = await client.mfa_challenge(live.auth)
    codes = (await harness.sim.get("/_sim/mfa/codes")).json()["codes"]
    code = next(c["code"] for c in codes if c["id"] == challenge)
    remember_me_id = await client.mfa_challenge_validate(
        live.auth, challenge_id=challenge, token=code, remember_me=True, device=DEVICE, machine_name="bb"
    )
    assert remember_me_id is not None
    credentials = dataclasses.replace(
        conn.credentials, remember_me_id=SecretStr(remember_me_id), device=DEVICE
    )
    return await harness.repo.update_credentials(conn.pk, credentials)


async def _protected_call(harness: Harness, conn: Connection) -> dict[str, Any]:
    client = harness.clients.for_integration("bill-sandbox")
    method, path, body = PROTECTED_OPERATION
    answer: dict[str, Any] = await client.request(method, path, auth=harness.keeper.auth(conn), json=body)
    return answer


def _assert_kept(relinked: Connection, remembered: Connection) -> None:
    assert relinked.pk == remembered.pk
    assert relinked.credentials.remember_me_id == remembered.credentials.remember_me_id
    assert relinked.credentials.device == DEVICE
    # BILL got the remembered device with the login: the new session is trusted at once.
    assert relinked.session.trusted is True
    assert relinked.session.generation == remembered.session.generation + 1


async def test_relinking_the_same_user_keeps_the_remembered_device(harness: Harness) -> None:
    remembered = await _remember_device(
        harness, await _link(harness, _form(harness), target=LinkTarget("c1"))
    )
    codes = await _sent_codes(harness)

    relinked = await _link(harness, _form(harness), target=LinkTarget("c1"))

    _assert_kept(relinked, remembered)
    harness.keeper.forget(relinked.pk)
    assert (await _protected_call(harness, relinked))["id"]
    assert await _sent_codes(harness) == codes  # no new MFA code was needed


async def test_reconnect_after_a_password_change_keeps_the_remembered_device(harness: Harness) -> None:
    remembered = await _remember_device(
        harness, await _link(harness, _form(harness), target=LinkTarget("c1"))
    )
    new_password = "changed-" + remembered.credentials.password.get_secret_value()
    body = {
        "action": "change_password",
        "username": remembered.credentials.username,
        "password": new_password,
    }
    (await harness.sim.post("/_sim/users", json=body)).raise_for_status()

    # The end user types the username in another case: it is the same BILL user.
    form = _form(harness, username=remembered.credentials.username.upper(), password=SecretStr(new_password))
    relinked = await _link(harness, form, connect_session=_reconnect_session("c1"))

    _assert_kept(relinked, remembered)
    assert relinked.credentials.password.get_secret_value() == new_password


@pytest.mark.parametrize("change", ["user", "organization"])
async def test_another_user_or_organization_starts_without_the_device(harness: Harness, change: str) -> None:
    remembered = await _remember_device(
        harness, await _link(harness, _form(harness), target=LinkTarget("c1"))
    )
    if change == "user":
        other = harness.world["organizations"][0]["users"][1]
        form = _form(harness, username=other["username"], password=SecretStr(other["password"]))
    else:
        form = _form(harness, org_index=1)
        assert form.organization_id != remembered.credentials.organization_id

    relinked = await _link(harness, form, target=LinkTarget("c1"))

    assert relinked.pk == remembered.pk
    assert relinked.credentials.username == form.username
    assert relinked.credentials.remember_me_id is None
    assert relinked.credentials.device is None
    assert relinked.session.trusted is False


async def test_a_relink_without_a_remembered_device_sends_none(harness: Harness) -> None:
    first = await _link(harness, _form(harness), target=LinkTarget("c1"))
    relinked = await _link(harness, _form(harness), target=LinkTarget("c1"))

    assert first.credentials.remember_me_id is None
    assert (relinked.credentials.remember_me_id, relinked.credentials.device) == (None, None)
    assert relinked.session.trusted is False
