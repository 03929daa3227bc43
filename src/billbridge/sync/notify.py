"""The ``sync`` webhook of a run, delivered as its own DBOS workflow so a restart does not lose it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from dbos import DBOS

from billbridge.sync import steps

WEBHOOK_WORKFLOW: Final = "billbridge.sync.webhook"

#: Sends one sync webhook; raises (or returns False) when the receiver did not take it.
WebhookSend = Callable[[int, str, dict[str, Any]], Awaitable[bool]]


class WebhookNotTaken(Exception):
    """The receiver answered with an error or not at all; DBOS retries the step."""


# Ten attempts, two seconds apart and doubling: a receiver may be away for about a quarter of an hour.
@DBOS.step(
    name="billbridge.sync.webhook.send",
    retries_allowed=True,
    max_attempts=10,
    interval_seconds=2.0,
    backoff_rate=2.0,
)
async def send(connection_pk: int, sync: str, outcome: dict[str, Any]) -> bool:
    """Send the webhook once; raise so DBOS retries with backoff when it was not taken."""
    sender = steps.context().webhook
    if sender is None:
        return False
    if not await sender(connection_pk, sync, outcome):
        raise WebhookNotTaken(f"the webhook receiver did not take the {sync!r} sync webhook")
    return True


@DBOS.workflow(name=WEBHOOK_WORKFLOW)
async def deliver(connection_pk: int, sync: str, outcome: dict[str, Any]) -> bool:
    """Deliver one sync webhook (retried; given up after the step's attempts)."""
    try:
        return await send(connection_pk, sync, outcome)
    except Exception:
        return False
