"""Proxied request bodies: small ones held (and retried), large ones streamed to BILL once, all capped.

The bodies are generated chunk by chunk while they are sent, and the simulator keeps only each
upload's size and SHA-256, so the memory traced during an upload is what billbridge held of it.
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from web_harness import Api

from billbridge.web.api.proxy_body import REPLAYABLE_BODY_BYTES

Form = Callable[..., dict[str, str]]
MIB = 1024 * 1024
CAP = 40 * MIB
CHUNK = 64 * 1024


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"proxy_max_body_bytes": CAP}


class Generated:
    """A body produced while it is sent (never whole in the test's memory); its digest at the end."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0
        self.digest = hashlib.sha256()

    async def chunks(self) -> AsyncIterator[bytes]:
        while self.sent < self.size:
            chunk = os.urandom(min(CHUNK, self.size - self.sent))
            self.digest.update(chunk)
            self.sent += len(chunk)
            yield chunk


async def _ids(api: Api, demo_form: Form) -> tuple[dict[str, str], str]:
    connection_id = await api.linked(demo_form())
    ids = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}
    vendors = await api.client.get("/proxy/v3/vendors", params={"max": "1"}, headers=ids)
    return ids, vendors.json()["results"][0]["id"]


async def _uploads(api: Api) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.sim.get("/_sim/attachments")).json()
    return found


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_large_upload_reaches_bill_intact_without_being_held(
    api: Api, demo_form: Form, declared: bool
) -> None:
    ids, vendor_id = await _ids(api, demo_form)
    body = Generated(32 * MIB)
    headers = {**ids, "Content-Type": "application/pdf"}
    if declared:
        headers["Content-Length"] = str(body.size)

    tracemalloc.start()
    try:
        answer = await api.client.post(
            f"/proxy/v3/attachments/vendors/{vendor_id}",
            params={"name": "statement.pdf"},
            headers=headers,
            content=body.chunks(),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert answer.status_code == 200, answer.text
    assert answer.json()["id"].startswith("att")
    (upload,) = await _uploads(api)
    assert (upload["name"], upload["size"], upload["sha256"]) == (
        "statement.pdf",
        body.size,
        body.digest.hexdigest(),
    )
    # Held whole, the body alone would take 32 MiB (twice that while joined).
    assert peak < 6 * MIB, f"{peak / MIB:.1f} MiB held during a 32 MiB upload"


async def test_an_upload_over_the_cap_is_cut_off_with_413(api: Api, demo_form: Form) -> None:
    ids, vendor_id = await _ids(api, demo_form)
    body = Generated(CAP + 4 * MIB)

    answer = await api.client.post(
        f"/proxy/v3/attachments/vendors/{vendor_id}",
        params={"name": "huge.pdf"},
        headers=ids,
        content=body.chunks(),
    )

    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "BILLBRIDGE_PROXY_MAX_BODY_BYTES" in error["message"]
    assert body.sent <= CAP + 2 * CHUNK, "reading stopped at the cap"
    assert await _uploads(api) == [], "BILL never got a whole request"


async def test_a_declared_length_over_the_cap_is_refused_before_bill_is_called(
    api: Api, demo_form: Form
) -> None:
    ids, vendor_id = await _ids(api, demo_form)
    before = (await api.sim_stats())["requests"]
    body = Generated(CAP + 1)

    answer = await api.client.post(
        f"/proxy/v3/attachments/vendors/{vendor_id}",
        params={"name": "huge.pdf"},
        headers={**ids, "Content-Length": str(body.size)},
        content=body.chunks(),
    )

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert (await api.sim_stats())["requests"] == before


@pytest.mark.parametrize(
    ("size", "tries"),
    [(2_000, 2), (REPLAYABLE_BODY_BYTES + 1, 1)],
    ids=["small-body-retried", "streamed-body-sent-once"],
)
async def test_only_held_bodies_are_retried(api: Api, demo_form: Form, size: int, tries: int) -> None:
    ids, vendor_id = await _ids(api, demo_form)
    payload = b'{"description": "' + b"d" * size + b'"}'
    await api.sim.post("/_sim/faults", json={"error_rate": 1.0})
    before = (await api.sim_stats())["requests"]

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), CHUNK):
            yield payload[start : start + CHUNK]

    answer = await api.client.patch(
        f"/proxy/v3/vendors/{vendor_id}",
        headers={**ids, "Content-Type": "application/json", "Retries": "1"},
        content=chunks(),
    )

    assert answer.status_code == 500  # BILL's BDC_1001, passed through after the tries
    assert (await api.sim_stats())["requests"] - before == tries


async def test_a_proxied_call_from_a_browser_still_gets_cors_headers(api: Api, demo_form: Form) -> None:
    ids, _ = await _ids(api, demo_form)
    origin = {"Origin": "https://app.example.com"}

    simple = await api.client.get("/proxy/v3/vendors", params={"max": "1"}, headers={**ids, **origin})
    preflight = await api.anon.options(
        "/proxy/v3/vendors",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Connection-Id",
        },
    )

    assert simple.status_code == 200
    assert simple.headers["access-control-allow-origin"] == "*"
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
