"""Connect Events state: webhook subscriptions per organization (at most 10 each)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from billbridge.simulator.errors import SimError

MAX_SUBSCRIPTIONS = 10
EVENT_TYPES = (
    "vendor.created",
    "vendor.updated",
    "vendor.archived",
    "vendor.restored",
    "autopay.failed",
    "bill.created",
    "bill.updated",
    "bill.archived",
    "bill.restored",
    "payment.updated",
    "payment.failed",
    "bank-account.created",
    "bank-account.updated",
    "card-account.created",
    "card-account.updated",
    "invoice.created",
    "invoice.updated",
    "invoice.archived",
    "invoice.restored",
    "risk-verification.updated",
    "spend.transaction.updated",
    "spend.reimbursement.created",
    "spend.reimbursement.updated",
    "spend.reimbursement.deleted",
    "spend.three-ds-challenge.created",
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _check_url(url: Any) -> str:
    if not isinstance(url, str):
        raise SimError("BDC_1108", "Missing required field: notificationUrl")
    parts = urlsplit(url)
    # BILL demands HTTPS; plain HTTP is allowed to loopback only, so local receivers can be tested.
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise SimError("BDC_1129", "notificationUrl must use HTTPS")
    return url


def _check_events(events: Any) -> list[dict[str, str]]:
    if not isinstance(events, list) or not events:
        raise SimError("BDC_1108", "Missing required field: events")
    checked = []
    for event in events:
        kind = event.get("type") if isinstance(event, dict) else None
        if kind not in EVENT_TYPES:
            raise SimError("BDC_1129", f"Unknown event type: {kind}")
        checked.append({"type": kind, "version": str(event.get("version", "1"))})
    return checked


class Subscriptions:
    """Subscriptions by organization, and idempotency keys already used."""

    def __init__(self) -> None:
        self._by_org: dict[str, dict[str, dict[str, Any]]] = {}
        self._idempotent: dict[tuple[str, str], dict[str, Any]] = {}

    def list(self, org_id: str) -> list[dict[str, Any]]:
        """Subscriptions of ``org_id`` (no security keys)."""
        return list(self._by_org.get(org_id, {}).values())

    def get(self, org_id: str, sub_id: str) -> dict[str, Any]:
        """One subscription, or BDC_1120."""
        found = self._by_org.get(org_id, {}).get(sub_id)
        if found is None:
            raise SimError("BDC_1120", f"No subscription found with id {sub_id}.")
        return found

    def create(self, org_id: str, body: dict[str, Any], *, idempotency_key: str, now: str) -> dict[str, Any]:
        """Create a subscription; the answer (only this one) carries the ``securityKey``."""
        previous = self._idempotent.get((org_id, idempotency_key))
        if previous is not None:
            return previous
        subs = self._by_org.setdefault(org_id, {})
        if len(subs) >= MAX_SUBSCRIPTIONS:
            raise SimError("BDC_1129", f"An organization can have at most {MAX_SUBSCRIPTIONS} subscriptions.")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise SimError("BDC_1108", "Missing required field: name")
        status = body.get("status")
        enabled = bool(status.get("enabled", True)) if isinstance(status, dict) else True
        record: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "name": name,
            "organizationId": org_id,
            "status": {"enabled": enabled},
            "events": _check_events(body.get("events")),
            "notificationUrl": _check_url(body.get("notificationUrl")),
            "createdTime": now,
            "updatedTime": now,
        }
        subs[record["id"]] = record
        answer = {**record, "securityKey": secrets.token_urlsafe(32)}
        self._idempotent[(org_id, idempotency_key)] = answer
        return answer

    def update(self, org_id: str, sub_id: str, body: dict[str, Any], *, now: str) -> dict[str, Any]:
        """PATCH/PUT a subscription's name, status, events or URL."""
        record = self.get(org_id, sub_id)
        if "name" in body:
            record["name"] = str(body["name"])
        if isinstance(body.get("status"), dict):
            record["status"] = {"enabled": bool(body["status"].get("enabled", True))}
        if "events" in body:
            record["events"] = _check_events(body["events"])
        if "notificationUrl" in body:
            record["notificationUrl"] = _check_url(body["notificationUrl"])
        record["updatedTime"] = now
        return record

    def delete(self, org_id: str, sub_id: str) -> None:
        """Delete a subscription, or BDC_1120."""
        self.get(org_id, sub_id)
        del self._by_org[org_id][sub_id]

    def rotate_key(self, org_id: str, sub_id: str) -> dict[str, Any]:
        """A new security key for a subscription (shown once)."""
        record = self.get(org_id, sub_id)
        return {"id": record["id"], "securityKey": secrets.token_urlsafe(32)}
