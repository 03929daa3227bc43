"""link_account against the in-process simulator and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keeper_harness import Harness, integrations
from pydantic import SecretStr

from billbridge.connections import (
    LinkForm,
    LinkRefusedError,
    LinkTarget,
    check_session_allows,
    link_account,
    session_tags,
    target_from_session,
)
from billbridge.errors import NotFoundError, StoreError, ValidationError
from billbridge.store import ConnectionRepository, ConnectSession, Keyring

SANDBOX = integrations()["bill-sandbox"]


def _form(harness: Harness, **changes: Any) -> LinkForm:
    creds = harness.credentials()
    form = LinkForm(
        username=creds.username,
        password=creds.password,
        organization_id=creds.organization_id,
        dev_key=creds.dev_key,
        api_token=creds.api_token,
    )
    return replace(form, **changes)


def _session(**changes: Any) -> ConnectSession:
    now = datetime.now(UTC)
    session = ConnectSession(
        pk=1,
        end_user={"id": "u1", "email": "u1@example.com"},
        organization={"id": "o1", "display_name": "Org One"},
        allowed_integrations=None,
        integrations_config_defaults={"bill-sandbox": {"connection_config": {"k": "v"}}},
        tags={"Team": "blue"},
        webhook_url_override=None,
        reconnect=None,
        mfa_required=False,
        attempts=0,
        created_at=now,
        expires_at=now + timedelta(minutes=30),
    )
    return replace(session, **changes)


async def test_link_stores_credentials_and_the_fresh_session(harness: Harness) -> None:
    outcome = await link_account(
        _form(harness),
        integration=SANDBOX,
        repo=harness.repo,
        clients=harness.clients,
        target=LinkTarget("c1"),
    )

    assert outcome.created is True
    assert outcome.operation == "creation"
    conn = outcome.connection
    assert conn.connection_id == "c1"
    assert conn.environment == "sandbox"
    assert conn.status == "ok"
    assert conn.credentials.api_token is not None
    assert conn.session.session_id is not None
    assert conn.session.user_id is not None
    assert conn.session.user_id.startswith("006")
    assert "sessionId" not in conn.session.raw
    assert await harness.logins() == 1


async def test_relink_replaces_credentials_and_keeps_metadata_and_end_user(harness: Harness) -> None:
    target = LinkTarget("c1", end_user={"id": "u1"}, tags={"a": "b"})
    first = await link_account(
        _form(harness), integration=SANDBOX, repo=harness.repo, clients=harness.clients, target=target
    )
    await harness.repo.set_metadata(first.connection.pk, {"kept": True}, merge=False)

    second = await link_account(
        _form(harness, api_token=None),
        integration=SANDBOX,
        repo=harness.repo,
        clients=harness.clients,
        target=LinkTarget("c1"),
    )

    assert second.created is False
    assert second.operation == "override"
    conn = second.connection
    assert conn.pk == first.connection.pk
    assert conn.metadata == {"kept": True}
    assert conn.end_user == {"id": "u1"}  # a link without a session keeps what the connection had
    assert conn.tags == {"a": "b"}
    assert conn.credentials.api_token is None
    assert conn.session.generation == first.connection.session.generation + 1


async def test_refused_login_stores_nothing(harness: Harness) -> None:
    with pytest.raises(LinkRefusedError) as caught:
        await link_account(
            _form(harness, password=SecretStr("wrong")),
            integration=SANDBOX,
            repo=harness.repo,
            clients=harness.clients,
            target=LinkTarget("c1"),
        )

    assert caught.value.code == "connection_test_failed"
    assert caught.value.field == "password"
    assert await harness.repo.list() == []


class FailingRepository(ConnectionRepository):
    """The real repository whose final write fails, as a full disk or a lost database would."""

    async def upsert_linked(self, **kwargs: Any) -> Any:
        raise StoreError("the database is gone")


async def test_failed_store_ends_the_new_bill_session(harness: Harness, keyring: Keyring) -> None:
    repo = FailingRepository(harness.database, keyring)

    with pytest.raises(StoreError):
        await link_account(_form(harness), integration=SANDBOX, repo=repo, clients=harness.clients)

    stats = await harness.stats()
    assert stats["logins"] == 1
    assert stats["sessions"] == 0
    assert await harness.repo.list() == []


async def test_session_rules_are_checked_before_any_login(harness: Harness) -> None:
    expired = _session(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    production_only = _session(allowed_integrations=["bill"])
    other_reconnect = _session(reconnect=("c9", "bill"))
    gone = _session(reconnect=("c9", "bill-sandbox"))

    with pytest.raises(NotFoundError) as caught_expired:
        await link_account(
            _form(harness),
            integration=SANDBOX,
            repo=harness.repo,
            clients=harness.clients,
            connect_session=expired,
        )
    for session in (production_only, other_reconnect):
        with pytest.raises(ValidationError) as caught:
            await link_account(
                _form(harness),
                integration=SANDBOX,
                repo=harness.repo,
                clients=harness.clients,
                connect_session=session,
            )
        assert caught.value.code == "integration_not_allowed"
    with pytest.raises(ValidationError) as caught_gone:
        await link_account(
            _form(harness),
            integration=SANDBOX,
            repo=harness.repo,
            clients=harness.clients,
            connect_session=gone,
        )

    assert caught_expired.value.code == "unknown_connect_session_token"
    assert caught_gone.value.code == "invalid_connection"
    assert await harness.logins() == 0


async def test_reconnect_session_pins_the_connection_id(harness: Harness) -> None:
    await link_account(
        _form(harness),
        integration=SANDBOX,
        repo=harness.repo,
        clients=harness.clients,
        target=LinkTarget("c1"),
    )

    outcome = await link_account(
        _form(harness),
        integration=SANDBOX,
        repo=harness.repo,
        clients=harness.clients,
        target=LinkTarget("ignored"),
        connect_session=_session(reconnect=("c1", "bill-sandbox")),
    )

    assert outcome.connection.connection_id == "c1"
    assert outcome.created is False


def test_target_from_session_carries_end_user_tags_and_config() -> None:
    target = target_from_session(_session(webhook_url_override="https://h.example.com"), "bill-sandbox")

    assert target.end_user == {
        "id": "u1",
        "email": "u1@example.com",
        "organization": {"id": "o1", "display_name": "Org One"},
    }
    assert target.tags == {
        "end_user_id": "u1",
        "end_user_email": "u1@example.com",
        "organization_id": "o1",
        "organization_display_name": "Org One",
        "team": "blue",
    }
    assert target.connection_config == {"k": "v"}
    assert target.webhook_url_override == "https://h.example.com"
    assert target_from_session(_session(), "bill").connection_config == {}


def test_session_tags_let_explicit_tags_win() -> None:
    assert session_tags({"id": "u1"}, None, {"end_user_id": "custom"}) == {"end_user_id": "custom"}
    assert session_tags(None, None, None) == {}


def test_check_session_allows_a_matching_session() -> None:
    check_session_allows(
        _session(allowed_integrations=["bill-sandbox"]), "bill-sandbox", now=datetime.now(UTC)
    )
