"""Auth webhooks from the API to a real HTTP receiver: creation, override, failures, signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from web_harness import SECRET_KEY, Api, WebhookReceiver, make_settings, running_app

from fixtures_db import TEST_KEY_LINE

Form = Callable[..., dict[str, str]]
SIGNING_KEY = "whsec-test-signing-key"


def _check_signatures(body: bytes, headers: dict[str, str], key: str) -> None:
    assert headers["X-Nango-Hmac-Sha256"] == hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Nango-Signature"] == hashlib.sha256(key.encode() + body).hexdigest()
    # Stripe's scheme: "t=<unix>,v1=<hex HMAC of '<t>.' + body>", signed at the moment of sending.
    stamp, v1 = (part.split("=", 1)[1] for part in headers["X-Billbridge-Signature"].split(","))
    assert abs(int(stamp) - time.time()) < 60
    assert v1 == hmac.new(key.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


async def test_creation_then_override_are_signed_with_the_secret_key(
    hooked: Api, receiver: WebhookReceiver, demo_form: Form
) -> None:
    connection_id = await hooked.linked(demo_form())
    reconnect = await hooked.client.post(
        "/connect/sessions/reconnect", json={"connection_id": connection_id, "integration_id": "bill-sandbox"}
    )
    await hooked.link(demo_form(), token=reconnect.json()["data"]["token"])

    creation, override = await receiver.wait_for(2)

    for hook in (creation, override):
        _check_signatures(hook.body, hook.headers, SECRET_KEY)
        # Compact, sorted JSON: what JSON.stringify rebuilds for the legacy signature.
        assert hook.body == json.dumps(json.loads(hook.body), separators=(",", ":"), sort_keys=True).encode()
    body = json.loads(creation.body)
    assert body == {
        "from": "nango",
        "type": "auth",
        "connectionId": connection_id,
        "providerConfigKey": "bill-sandbox",
        "authMode": "BILL",
        "provider": "bill",
        "environment": "sandbox",
        "operation": "creation",
        "success": True,
        "tags": {"end_user_id": "u1", "end_user_email": "jane@example.com", "end_user_display_name": "Jane"},
        "endUser": {"endUserId": "u1", "endUserEmail": "jane@example.com", "tags": {}},
    }
    assert json.loads(override.body)["operation"] == "override"


async def test_refused_login_sends_a_failed_creation_webhook(
    hooked: Api, receiver: WebhookReceiver, demo_form: Form
) -> None:
    response = await hooked.link(demo_form(password="wrong"))

    (hook,) = await receiver.wait_for(1)
    body = json.loads(hook.body)
    assert response.status_code == 400
    assert body["operation"] == "creation"
    assert body["success"] is False
    assert body["error"]["type"] == "connection_test_failed"
    assert "not accepted" in body["error"]["description"]
    assert demo_form()["password"] not in hook.body.decode()


async def test_refresh_failure_sends_one_webhook(
    hooked: Api, receiver: WebhookReceiver, demo_form: Form
) -> None:
    connection_id = await hooked.linked(demo_form())
    await receiver.wait_for(1)
    await hooked.store_wrong_password(connection_id)
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}
    await hooked.sim.post("/_sim/sessions/invalidate", json={})

    first = await hooked.client.get("/proxy/v3/vendors", headers=headers)
    second = await hooked.client.get("/proxy/v3/vendors", headers=headers)

    assert first.status_code == second.status_code == 424
    hooks = await receiver.wait_for(2)
    refresh = json.loads(hooks[1].body)
    assert refresh["operation"] == "refresh"
    assert refresh["success"] is False
    assert refresh["error"]["type"] == "invalid_credentials"
    await hooked.runtime.webhooks.drain(grace=1)
    assert len(receiver.received) == 2


async def test_webhook_override_url_and_configured_signing_key(
    sim_app: Any, production_sim_app: Any, sqlite_database_url: str, tmp_path: Path, demo_form: Form
) -> None:
    async with WebhookReceiver.running() as default, WebhookReceiver.running(refuse_first=1) as override:
        settings = make_settings(
            tmp_path,
            database_url=sqlite_database_url,
            encryption_key=SecretStr(TEST_KEY_LINE),
            webhook_url=default.url,
            webhook_signing_key=SecretStr(SIGNING_KEY),
        )
        async with running_app(settings, sandbox=sim_app, production=production_sim_app) as api:
            await api.linked(demo_form(), webhook_url_override=override.url)
            (hook,) = await override.wait_for(1)

        assert override.attempts == 2  # the first delivery was refused and retried
        assert default.received == []
        _check_signatures(hook.body, hook.headers, SIGNING_KEY)


async def test_no_webhook_url_means_no_webhooks(api: Api, demo_form: Form, receiver: WebhookReceiver) -> None:
    await api.linked(demo_form(), webhook_url_override=receiver.url)
    await api.runtime.webhooks.drain(grace=1)
    assert receiver.attempts == 0


async def test_a_generated_secret_key_still_signs_after_a_restart(
    sim_app: Any, production_sim_app: Any, sqlite_database_url: str, tmp_path: Path, demo_form: Form
) -> None:
    from billbridge.store import ApiKeyRepository, Database, Keyring, parse_keys

    first_start = make_settings(
        tmp_path, database_url=sqlite_database_url, encryption_key=SecretStr(TEST_KEY_LINE), secret_key=None
    )
    db = await Database.open(first_start)
    try:
        generated = await ApiKeyRepository(db, Keyring(parse_keys(TEST_KEY_LINE))).ensure_secret_key(None)
    finally:
        await db.close()
    assert generated is not None
    async with WebhookReceiver.running() as receiver:
        settings = make_settings(
            tmp_path,
            database_url=sqlite_database_url,
            encryption_key=SecretStr(TEST_KEY_LINE),
            secret_key=None,
            webhook_url=receiver.url,
        )
        async with running_app(settings, sandbox=sim_app, production=production_sim_app) as api:
            api.client.headers["Authorization"] = f"Bearer {generated}"
            await api.linked(demo_form())
            (hook,) = await receiver.wait_for(1)

    _check_signatures(hook.body, hook.headers, generated)
