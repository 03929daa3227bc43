"""What linking, refused links, refresh failures and deletion emit: one webhook and one log entry each."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from web_harness import Api, WebhookReceiver

from billbridge.connections import Event
from billbridge.store import Operation

Form = Callable[..., dict[str, str]]
KEY = {"provider_config_key": "bill-sandbox"}


def _seen(api: Api) -> list[Event]:
    """Every event the runtime emits from now on, in order."""
    seen: list[Event] = []

    async def note(event: Event) -> None:
        seen.append(event)

    api.runtime.events.subscribe(Event, note)
    return seen


async def _log(api: Api) -> list[tuple[str, str, str | None]]:
    entries: list[Operation] = await api.runtime.operations.list()
    return [(op.kind, op.outcome, op.connection_id) for op in reversed(entries)]


async def test_link_relink_and_delete_each_send_one_webhook_and_one_log_entry(
    hooked: Api, receiver: WebhookReceiver, demo_form: Form
) -> None:
    seen = _seen(hooked)
    connection_id = await hooked.linked(demo_form())
    reconnect = await hooked.client.post(
        "/connect/sessions/reconnect", json={"connection_id": connection_id, "integration_id": "bill-sandbox"}
    )
    relinked = await hooked.link(demo_form(), token=reconnect.json()["data"]["token"])
    deleted = await hooked.client.delete(f"/connections/{connection_id}", params=KEY)
    await hooked.runtime.accounts.drain()
    await hooked.runtime.webhooks.drain(grace=2)

    assert relinked.status_code == deleted.status_code == 200
    assert [type(event).__name__ for event in seen] == [
        "LoginFinished",
        "ConnectionLinked",
        "LoginFinished",
        "ConnectionRelinked",
        "ConnectionDeleted",
    ]
    assert [json.loads(hook.body)["operation"] for hook in receiver.received] == ["creation", "override"]
    assert await _log(hooked) == [
        ("link", "creation", connection_id),
        ("link", "override", connection_id),
        ("delete", "deleted", connection_id),
    ]


async def test_a_refused_link_is_logged_with_bills_code_and_no_secret(
    hooked: Api, receiver: WebhookReceiver, demo_form: Form
) -> None:
    response = await hooked.link(demo_form(password="wrong-password"))
    (hook,) = await receiver.wait_for(1)

    assert response.status_code == 400
    (entry,) = await hooked.runtime.operations.list()
    assert (entry.kind, entry.outcome, entry.detail) == (
        "link",
        "refused",
        {"code": "connection_test_failed"},
    )
    assert json.loads(hook.body)["connectionId"] == entry.connection_id
    assert "wrong-password" not in repr(entry)


async def test_a_refresh_failure_is_told_once_however_many_calls_fail(
    hooked: Api, receiver: WebhookReceiver, demo_form: Form
) -> None:
    connection_id = await hooked.linked(demo_form())
    await receiver.wait_for(1)
    await hooked.store_wrong_password(connection_id)
    await hooked.sim.post("/_sim/sessions/invalidate", json={})
    seen = _seen(hooked)
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}

    answers = await asyncio.gather(
        *(hooked.client.get("/proxy/v3/vendors", headers=headers) for _ in range(5))
    )
    fetched = await hooked.client.get(f"/connections/{connection_id}", params=KEY)
    await hooked.runtime.webhooks.drain(grace=2)

    assert {answer.status_code for answer in answers} == {424}
    assert fetched.status_code == 424
    assert [type(event).__name__ for event in seen] == ["LoginFinished", "RefreshFailed"]
    assert [json.loads(hook.body)["operation"] for hook in receiver.received] == ["creation", "refresh"]
    refresh_entries = await hooked.runtime.operations.list(kind="refresh")
    assert [(op.outcome, op.detail) for op in refresh_entries] == [
        ("invalid_credentials", {"code": "invalid_credentials"})
    ]
