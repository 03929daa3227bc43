"""``/v3/vendors/{vendorId}/bank-account``: one bank account per vendor (update = delete + create)."""

from __future__ import annotations

from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.families import CATALOG
from billbridge.simulator.gateway import Call, Handler, json_response, read_json
from billbridge.simulator.store import FamilyStore

_REQUIRED = ("nameOnAccount", "accountNumber", "routingNumber")


def _vendors(call: Call, vendor_id: str) -> FamilyStore:
    store = call.state.data.family(call.org, CATALOG["vendors"])
    store.get(vendor_id)
    return store


async def _get(call: Call, vendor_id: str) -> Response:
    account = _vendors(call, vendor_id).extras.get(vendor_id)
    if account is None:
        raise SimError("BDC_1120", f"Vendor {vendor_id} has no bank account.")
    return json_response(account)


async def _create(call: Call, vendor_id: str) -> Response:
    store = _vendors(call, vendor_id)
    body = await read_json(call.request)
    # Adding a vendor bank account moves money on the next payment: BILL wants a trusted session.
    call.require_trust()
    missing = [name for name in _REQUIRED if not isinstance(body.get(name), str) or not body[name]]
    if missing:
        raise SimError("BDC_1108", f"Missing required field: {missing[0]}")
    if vendor_id in store.extras:
        raise SimError("BDC_1129", "The vendor already has a bank account; delete it first.")
    now = call.state.timestamp()
    account = {
        "id": store.ctx.id("vba", store.extra_serial),
        "vendorId": vendor_id,
        "nameOnAccount": body["nameOnAccount"],
        "accountNumber": "XXXXXX" + body["accountNumber"][-4:],
        "routingNumber": body["routingNumber"],
        "type": body.get("type", "CHECKING"),
        "ownerType": body.get("ownerType", "BUSINESS"),
        "status": "VERIFIED",
        "createdTime": now,
        "updatedTime": now,
    }
    store.extras[vendor_id] = account
    store.extra_serial += 1
    return json_response(account)


async def _delete(call: Call, vendor_id: str) -> Response:
    store = _vendors(call, vendor_id)
    if store.extras.pop(vendor_id, None) is None:
        raise SimError("BDC_1120", f"Vendor {vendor_id} has no bank account.")
    return json_response({})


def resolve(method: str, vendor_id: str) -> Handler | None:
    """The handler of ``method /v3/vendors/{vendor_id}/bank-account``."""
    handler = {"GET": _get, "POST": _create, "DELETE": _delete}.get(method)
    if handler is None:
        return None
    return lambda call: handler(call, vendor_id)
