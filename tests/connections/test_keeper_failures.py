"""SessionKeeper when logins fail: refused credentials, BILL down, budgets, untrusted sessions."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from keeper_harness import PROTECTED_OPERATION, Harness, integrations
from pydantic import SecretStr

from billbridge.bill import Limits
from billbridge.connections import BillClients, SessionKeeper, utc_now
from billbridge.errors import (
    CredentialsRejectedError,
    LoginCooldownError,
    RateLimitError,
    UntrustedSessionError,
)
from billbridge.simulator import SimConfig, create_app
from billbridge.store import Connection, Database, Keyring
from support.processes import free_port

MINUTE = 60


async def _expire(harness: Harness) -> None:
    await harness.advance(36 * MINUTE)


async def _set_password(harness: Harness, conn: Connection, password: str) -> None:
    """Change the user's password at "BILL" through the simulator's control surface."""
    body = {"action": "change_password", "username": conn.credentials.username, "password": password}
    (await harness.sim.post("/_sim/users", json=body)).raise_for_status()


async def change_password(harness: Harness, conn: Connection) -> None:
    """The user changed their password in BILL; billbridge still holds the old one."""
    await _set_password(harness, conn, "changed-" + conn.credentials.password.get_secret_value())


async def restore_password(harness: Harness, conn: Connection) -> None:
    await _set_password(harness, conn, conn.credentials.password.get_secret_value())


async def test_changed_password_marks_the_connection_invalid_after_one_attempt(
    harness: Harness, conn: Connection
) -> None:
    await change_password(harness, conn)
    await _expire(harness)
    attempts_before = await harness.login_failures()
    callers = [harness.keeper.live_session(conn) for _ in range(20)]
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(r, CredentialsRejectedError) for r in results)
    assert await harness.login_failures() == attempts_before + 1

    stored = await harness.repo.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.status == "invalid_credentials"
    assert stored.last_error is not None
    assert "BDC_1101" in stored.last_error
    assert stored.session.session_id is None

    # No further attempt: not on use, not on a forced refresh, not from another process.
    other = harness.new_keeper()
    for attempt in (
        harness.keeper.live_session(conn),
        harness.keeper.refresh(conn, force=True),
        other.live_session(conn),
        other.refresh(conn, force=True),
    ):
        with pytest.raises(CredentialsRejectedError, match="re-link"):
            await attempt
    await _expire(harness)
    with pytest.raises(CredentialsRejectedError):
        await harness.keeper.live_session(conn)
    assert await harness.login_failures() == attempts_before + 1
    await other.aclose()


async def test_rejected_message_holds_no_secret(harness: Harness, conn: Connection) -> None:
    await change_password(harness, conn)
    await _expire(harness)
    with pytest.raises(CredentialsRejectedError) as caught:
        await harness.keeper.live_session(conn)
    text = str(caught.value) + repr(caught.value)
    for secret in (conn.credentials.password, conn.credentials.dev_key, conn.session.session_id):
        assert secret is not None
        assert secret.get_secret_value() not in text
    assert conn.connection_id in text


async def test_relinking_an_invalid_connection_makes_it_usable_again(
    harness: Harness, conn: Connection
) -> None:
    await change_password(harness, conn)
    await _expire(harness)
    with pytest.raises(CredentialsRejectedError):
        await harness.keeper.live_session(conn)
    await restore_password(harness, conn)
    relinked = await harness.link(conn.connection_id)
    assert relinked.status == "ok"
    live = await harness.keeper.live_session(relinked)
    assert live.generation == relinked.session.generation


async def test_transient_login_failure_cools_down(harness: Harness, conn: Connection) -> None:
    await _expire(harness)
    (await harness.sim.post("/_sim/faults", json={"fail_logins": 1})).raise_for_status()
    attempts = await harness.login_failures()
    with pytest.raises(LoginCooldownError) as caught:
        await harness.keeper.live_session(conn)
    assert caught.value.retry_after == pytest.approx(30, abs=1)
    assert await harness.login_failures() == attempts + 1

    # Within the cooldown nothing is tried, in this process or another.
    other = harness.new_keeper()
    for keeper in (harness.keeper, other):
        with pytest.raises(LoginCooldownError):
            await keeper.live_session(conn)
    assert await harness.login_failures() == attempts + 1
    stored = await harness.repo.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.status == "ok"
    assert stored.login_failures == 1

    await harness.advance(31)
    live = await harness.keeper.live_session(conn)
    assert live.generation == conn.session.generation + 1
    stored = await harness.repo.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.login_failures == 0
    assert stored.cooldown_until is None
    await other.aclose()


async def test_cooldown_grows_with_each_failure(harness: Harness, conn: Connection) -> None:
    await _expire(harness)
    (await harness.sim.post("/_sim/faults", json={"fail_logins": 3})).raise_for_status()
    waits = []
    for _ in range(3):
        with pytest.raises(LoginCooldownError) as caught:
            await harness.keeper.live_session(conn)
        waits.append(round(caught.value.retry_after))
        await harness.advance(caught.value.retry_after + 1)
    assert waits == [30, 60, 120]
    await harness.keeper.live_session(conn)


async def test_forced_refresh_ignores_the_cooldown(harness: Harness, conn: Connection) -> None:
    await _expire(harness)
    (await harness.sim.post("/_sim/faults", json={"fail_logins": 1})).raise_for_status()
    with pytest.raises(LoginCooldownError):
        await harness.keeper.live_session(conn)
    live = await harness.keeper.refresh(conn, force=True)
    assert live.generation == conn.session.generation + 1


async def test_login_budget_is_respected(database: Database, keyring: Keyring, sim_config: SimConfig) -> None:
    harness = Harness(
        app=create_app(sim_config), database=database, keyring=keyring, limits=Limits(logins_per_hour=2)
    )
    await harness.start()
    try:
        conn = await harness.link()  # the first login of the hour
        await harness.keeper.refresh(conn)  # the second
        before = await harness.stats()
        with pytest.raises(RateLimitError) as caught:
            await harness.keeper.refresh(conn)
        assert caught.value.reset_at > utc_now()
        # Nobody waiting for a session retries until the budget returns.
        await _expire(harness)
        with pytest.raises(RateLimitError):
            await harness.keeper.live_session(conn)
        after = await harness.stats()
        assert (after["logins"], after["login_failures"]) == (before["logins"], before["login_failures"])
    finally:
        await harness.aclose()


async def test_untrusted_session_is_never_answered_with_a_login(harness: Harness, conn: Connection) -> None:
    before = await harness.logins()
    client = harness.clients.for_integration("bill-sandbox")

    method, path, body = PROTECTED_OPERATION

    with pytest.raises(UntrustedSessionError, match="MFA-trusted") as caught:
        await client.request(method, path, auth=harness.keeper.auth(conn), json=body)
    assert caught.value.code == "BDC_1361"
    assert await harness.logins() == before


async def test_a_keeper_for_another_process_sees_invalid_status(harness: Harness, conn: Connection) -> None:
    other: SessionKeeper = harness.new_keeper()
    await other.live_session(conn)  # caches the connection as "ok"
    await change_password(harness, conn)
    await _expire(harness)
    with pytest.raises(CredentialsRejectedError):
        await harness.keeper.live_session(conn)
    failures = await harness.login_failures()
    with pytest.raises(CredentialsRejectedError):
        await other.live_session(conn)  # learns the status under the lock, tries nothing
    assert await harness.login_failures() == failures
    await other.aclose()


async def test_a_hanging_login_is_cut_short_and_cools_down(harness: Harness, conn: Connection) -> None:
    keeper = harness.new_keeper(login_deadline=0.3)
    await _expire(harness)
    faults = {"timeout_rate": 1.0, "timeout_seconds": 5}
    (await harness.sim.post("/_sim/faults", json=faults)).raise_for_status()
    with pytest.raises(LoginCooldownError, match="did not complete the login"):
        await keeper.live_session(conn)
    stored = await harness.repo.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.login_failures == 1
    assert stored.cooldown_until is not None
    await keeper.aclose()


async def test_remembered_mfa_makes_new_sessions_trusted(harness: Harness, conn: Connection) -> None:
    client = harness.clients.for_integration("bill-sandbox")
    live = await harness.keeper.live_session(conn)
    challenge = await client.mfa_challenge(live.auth)
    codes = (await harness.sim.get("/_sim/mfa/codes")).json()["codes"]
    token = next(c["code"] for c in codes if c["id"] == challenge)
    remember_me_id = await client.mfa_challenge_validate(
        live.auth, challenge_id=challenge, token=token, remember_me=True, device="bb-1", machine_name="bb"
    )
    assert remember_me_id is not None
    creds = dataclasses.replace(conn.credentials, remember_me_id=SecretStr(remember_me_id), device="bb-1")
    updated = await harness.repo.update_credentials(conn.pk, creds)

    renewed = await harness.keeper.refresh(updated)
    stored = await harness.repo.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.session.trusted
    method, path, body = PROTECTED_OPERATION
    answer = await client.request(method, path, auth=renewed.auth, json=body)
    assert answer["id"]


async def test_unreachable_bill_cools_down(harness: Harness, conn: Connection) -> None:
    # A real refused connection: a loopback port nothing listens on.
    dead = BillClients(integrations(f"http://127.0.0.1:{free_port()}"), max_retries=0)
    keeper = SessionKeeper(harness.repo, dead, clock=harness.clock)
    try:
        await _expire(harness)
        with pytest.raises(LoginCooldownError, match="could not be reached") as caught:
            await keeper.live_session(conn)
        assert caught.value.retry_after == pytest.approx(30, abs=1)
        stored = await harness.repo.get_by_pk(conn.pk)
        assert stored is not None
        assert stored.status == "ok"
        assert stored.last_error is not None
        assert stored.last_error.startswith("bill_unreachable")
    finally:
        await keeper.aclose()
        await dead.aclose()
