"""Sync webhooks to a real HTTP receiver: Nango's body, signatures, override URL, refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from web_harness import SECRET_KEY, Api, WebhookReceiver, make_settings, running_app

from fixtures_db import TEST_KEY_LINE

Form = Callable[..., dict[str, str]]
STARTED = "2026-03-01T12:00:00.000+00:00"


async def linked_with_sync(api: Api, form: dict[str, str]) -> tuple[str, int]:
    connection_id = await api.linked(form)
    conn = await api.runtime.connections.get(connection_id, "bill-sandbox")
    assert conn is not None
    await api.runtime.sync_states.ensure(
        conn.pk, "vendors", model="Vendor", frequency="every 1h", frequency_seconds=3600
    )
    return connection_id, conn.pk


async def test_success_and_failure_bodies_are_nangos_and_signed(
    hooked: Api, receiver: WebhookReceiver, demo_form: Form
) -> None:
    connection_id, pk = await linked_with_sync(hooked, demo_form())
    (auth,) = await receiver.wait_for(1)
    send = hooked.runtime.sync_webhooks.send
    ok = {
        "success": True,
        "counts": {"added": 3, "updated": 1, "deleted": 0},
        "started_at": STARTED,
        "full": False,
    }
    assert await send(pk, "vendors", ok) is True
    failed = {
        "success": False,
        "error": "BILL answered 503 three times",
        "code": "sync_failed",
        "started_at": STARTED,
        "finished_at": "2026-03-01T12:01:00.000+00:00",
    }
    assert await send(pk, "vendors", failed) is True
    _, success, failure = await receiver.wait_for(3)
    for hook in (success, failure):
        key = SECRET_KEY.encode()
        assert hook.headers["X-Nango-Hmac-Sha256"] == hmac.new(key, hook.body, hashlib.sha256).hexdigest()
        assert hook.body == json.dumps(json.loads(hook.body), separators=(",", ":"), sort_keys=True).encode()
    base = {
        "from": "nango",
        "type": "sync",
        "connectionId": connection_id,
        "providerConfigKey": "bill-sandbox",
        "syncName": "vendors",
        "syncVariant": "base",
        "model": "Vendor",
        "syncType": "INITIAL",
    }
    assert json.loads(success.body) == {
        **base,
        "success": True,
        "responseResults": {"added": 3, "updated": 1, "deleted": 0},
        "modifiedAfter": STARTED,
        "queryTimeStamp": STARTED,
    }
    assert json.loads(failure.body) == {
        **base,
        "success": False,
        "error": {"type": "sync_failed", "description": "BILL answered 503 three times"},
        "startedAt": STARTED,
        "failedAt": "2026-03-01T12:01:00.000+00:00",
    }
    assert auth.body != success.body


async def test_override_url_and_nothing_to_send(
    hooked: Api, receiver: WebhookReceiver, demo_form: Form
) -> None:
    connection_id, pk = await linked_with_sync(hooked, demo_form())
    await receiver.wait_for(1)
    send = hooked.runtime.sync_webhooks.send
    outcome = {"success": True, "counts": {"updated": 1}, "started_at": STARTED, "sync_type": "INCREMENTAL"}
    async with WebhookReceiver.running() as other:
        response = await hooked.client.patch(
            f"/connections/{connection_id}",
            params={"provider_config_key": "bill-sandbox"},
            json={"webhook_url_override": other.url},
        )
        assert response.status_code == 200, response.text
        assert await send(pk, "vendors", outcome) is True
        (hook,) = await other.wait_for(1)
        assert json.loads(hook.body)["syncType"] == "INCREMENTAL"
    # A sync or connection that is gone: nothing to deliver, and nothing to retry.
    assert await send(pk, "no-such-sync", outcome) is True
    assert await send(pk + 100, "vendors", outcome) is True
    assert len(receiver.received) == 1


async def test_a_receiver_that_refuses_gets_false_so_the_engine_retries(
    sim_app: Any, production_sim_app: Any, sqlite_database_url: str, tmp_path: Path, demo_form: Form
) -> None:
    async with WebhookReceiver.running(refuse_first=100) as refusing:
        settings = make_settings(
            tmp_path,
            database_url=sqlite_database_url,
            encryption_key=SecretStr(TEST_KEY_LINE),
            webhook_url=refusing.url,
        )
        async with running_app(settings, sandbox=sim_app, production=production_sim_app) as api:
            _, pk = await linked_with_sync(api, demo_form())
            await api.runtime.webhooks.drain()  # the auth webhook's own attempts
            before = refusing.attempts
            outcome = {"success": True, "counts": {"added": 1}, "started_at": STARTED}
            assert await api.runtime.sync_webhooks.send(pk, "vendors", outcome) is False
            assert refusing.attempts - before == 3
