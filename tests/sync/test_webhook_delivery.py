"""A run's ``sync`` webhook is its own durable workflow: retried while the receiver refuses, and
still delivered after the process stops in the middle of the retries and starts again."""

from __future__ import annotations

import asyncio
from typing import Any

from dbos import DBOS
from sync_harness import SyncHarness

from billbridge.sync.notify import WEBHOOK_WORKFLOW


async def test_a_sync_webhook_is_retried_and_survives_a_restart(harness: SyncHarness) -> None:
    attempts: list[dict[str, Any]] = []
    accepting = False

    async def send(connection_pk: int, sync: str, outcome: dict[str, Any]) -> bool:
        attempts.append(outcome)
        return accepting

    harness.context.webhook = send
    conn = await harness.link()
    result = await harness.run(conn, "vendors")
    assert result["counts"]["added"] > 0
    async with asyncio.timeout(30):
        while len(attempts) < 2:  # refused, and tried again
            await asyncio.sleep(0.05)
    [hook] = await DBOS.list_workflows_async(name=WEBHOOK_WORKFLOW, load_input=False)
    assert hook.status == "PENDING"

    await harness.engine.stop()  # the process goes away in the middle of the retries
    accepting = True
    await harness.engine.start()  # and comes back: DBOS resumes the delivery

    handle = await DBOS.retrieve_workflow_async(hook.workflow_id)
    async with asyncio.timeout(30):
        assert await handle.get_result() is True
    assert len(attempts) >= 3
    assert {a["success"] for a in attempts} == {True}
    assert attempts[-1]["counts"] == result["counts"]
