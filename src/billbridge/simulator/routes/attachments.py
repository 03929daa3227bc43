"""``/v3/attachments/{vendors|customers|invoices}/{id}``: upload a file (the raw body) and list them.

As BILL does (developer.bill.com/docs/documents-attachments), the file is the request body as sent
(``--data-binary``) and ``?name=`` names it. The simulator keeps each file's size and SHA-256, not
its bytes (it reads the body as it arrives), does not check that the owner exists, and does not
enforce BILL's 6 MB file limit: tests use it to see what reached "BILL" through the proxy
(``GET /_sim/attachments``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.gateway import Call, Handler, json_response

OWNERS = frozenset({"vendors", "customers", "invoices"})


def resolve(method: str, rest: list[str]) -> Handler | None:
    """The handler of ``method /v3/attachments/<rest>``, or None if BILL has no such operation."""
    if len(rest) != 2 or rest[0] not in OWNERS or not rest[1]:
        return None
    owner, owner_id = rest
    if method == "POST":
        return lambda call: _upload(call, owner, owner_id)
    if method == "GET":
        return lambda call: _list(call, owner, owner_id)
    return None


async def _upload(call: Call, owner: str, owner_id: str) -> Response:
    name = call.request.query_params.get("name")
    if not name:
        raise SimError("BDC_1108", "name is required: the file name with its extension.")
    digest, size = hashlib.sha256(), 0
    async for chunk in call.request.stream():
        digest.update(chunk)
        size += len(chunk)
    item = call.state.attachments.add(call.org.id, owner, owner_id, name, size, digest.hexdigest())
    return json_response(item.answer())


async def _list(call: Call, owner: str, owner_id: str) -> Response:
    items = call.state.attachments.items
    found = [
        a.answer()
        for a in items
        if (a.organization_id, a.owner, a.owner_id) == (call.org.id, owner, owner_id)
    ]
    return json_response({"results": found})


async def uploaded(request: Request) -> Response:
    """``GET /_sim/attachments``: every file uploaded, with its size and SHA-256."""
    return json_response([asdict(a) for a in request.app.state.sim.attachments.items])
