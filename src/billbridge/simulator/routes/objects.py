"""The object families: list, get, create (also bulk), update, replace, archive, restore, actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.families import CATALOG, FamilySpec
from billbridge.simulator.families.checks import require
from billbridge.simulator.gateway import Call, json_response, raw_response, read_json
from billbridge.simulator.listing import list_page
from billbridge.simulator.routes import money, vendor_bank
from billbridge.simulator.store import FamilyStore

MAX_BULK = 20
ObjectHandler = Callable[[Call], Awaitable[Response]]


def _store(call: Call, spec: FamilySpec) -> FamilyStore:
    return call.state.data.family(call.org, spec)


def _guard(call: Call, spec: FamilySpec, action: str, body: dict[str, Any]) -> None:
    if spec.protected(action, body):
        call.require_trust()


def resolve(method: str, path: str) -> ObjectHandler | None:
    """The handler of ``method path`` (path below ``/v3``), or None if BILL has no such operation."""
    segments = path.split("/")
    spec = CATALOG.get("/".join(segments[:2])) if len(segments) >= 2 else None
    if spec is not None:
        rest = segments[2:]
    else:
        spec = CATALOG.get(segments[0])
        rest = segments[1:]
    if spec is None or any(not s for s in rest):
        return None
    if not rest:
        if method == "GET":
            return lambda call: _list(call, spec)
        if method == "POST" and spec.creatable:
            return lambda call: _create(call, spec)
        return None
    if method == "POST" and (movement := money.resolve(spec.path, rest)) is not None:
        return movement
    if rest == ["bulk"]:
        return (lambda call: _bulk_create(call, spec)) if method == "POST" and spec.creatable else None
    record_id = rest[0]
    if len(rest) == 1:
        if method == "GET":
            return lambda call: _get(call, spec, record_id)
        if method == "PATCH" and spec.creatable:
            return lambda call: _update(call, spec, record_id, replace=False)
        if method == "PUT" and spec.replaceable:
            return lambda call: _update(call, spec, record_id, replace=True)
        return None
    if len(rest) == 2 and rest[1] == "bank-account" and spec.path == "vendors":
        return vendor_bank.resolve(method, record_id)
    if len(rest) == 2 and method == "POST":
        action = rest[1]
        if spec.archivable and (action == "archive" or (action == "restore" and spec.restorable)):
            return lambda call: _set(call, spec, record_id, "archived", action == "archive")
    return None


async def _list(call: Call, spec: FamilySpec) -> Response:
    params = call.request.query_params
    body = list_page(
        _store(call, spec),
        filters=params.get("filters"),
        sort=params.get("sort"),
        max_raw=params.get("max"),
        page=params.get("page"),
    )
    return raw_response(body)


async def _get(call: Call, spec: FamilySpec, record_id: str) -> Response:
    store = _store(call, spec)
    store.get(record_id)
    return raw_response(store.encoded[record_id])


async def _create(call: Call, spec: FamilySpec) -> Response:
    body = await read_json(call.request)
    _guard(call, spec, "create", body)
    return json_response(_store(call, spec).create(body, now=call.state.timestamp()))


async def _bulk_create(call: Call, spec: FamilySpec) -> Response:
    items = await read_json(call.request, allow_list=True)
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK:
        raise SimError("BDC_1129", f"A bulk request takes a list of 1 to {MAX_BULK} objects.")
    for item in items:
        if not isinstance(item, dict):
            raise SimError("BDC_1122", "Every bulk item must be a JSON object.")
        _guard(call, spec, "create", item)
        # All or nothing, as BILL's bulk endpoints: nothing is created if one item is invalid.
        require(item, spec.required)
    store = _store(call, spec)
    now = call.state.timestamp()
    return json_response([store.create(item, now=now) for item in items])


async def _update(call: Call, spec: FamilySpec, record_id: str, *, replace: bool) -> Response:
    body = await read_json(call.request)
    _guard(call, spec, "update", body)
    store = _store(call, spec)
    return json_response(store.update(record_id, body, now=call.state.timestamp(), replace=replace))


async def _set(call: Call, spec: FamilySpec, record_id: str, field: str, value: Any) -> Response:
    store = _store(call, spec)
    if field == "archived" and value and spec.archive_refusal is not None:
        refusal = spec.archive_refusal(store.get(record_id))
        if refusal is not None:
            raise SimError("BDC_1129", refusal)
    return json_response(store.set_field(record_id, field, value, now=call.state.timestamp()))
