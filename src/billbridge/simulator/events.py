"""Connect Events subscriptions: at most 10 per organization, no duplicates, one-time security keys.

Organization-level subscriptions (``devKey`` + ``sessionId``) take AP/AR events; Spend & Expense
subscriptions (``apiToken``) take ``spend.*`` events. Each sees only its own kind.
"""

from __future__ import annotations

import builtins
import ipaddress
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from billbridge.simulator.errors import SimError
from billbridge.simulator.webhook_catalog import EVENT_VERSION, EVENTS_BY_SCOPE, Scope

MAX_SUBSCRIPTIONS = 10
#: How long an ``X-Idempotent-Key`` answer is replayed (BILL: 24 hours).
IDEMPOTENCY_SECONDS = 24 * 3600
HTTPS_RULE = (
    "notificationUrl must be an https:// URL (BILL requires HTTPS; this simulator also accepts "
    "http:// to loopback hosts only: 127.0.0.0/8, ::1 and localhost)"
)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: Any) -> str:
    """A valid notification URL, or BDC_1108 (missing) / BDC_1129 (not HTTPS, not loopback)."""
    if url is None or url == "":
        raise SimError("BDC_1108", "Missing required field: notificationUrl")
    if not isinstance(url, str):
        raise SimError("BDC_1129", HTTPS_RULE)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host))):
        raise SimError("BDC_1129", HTTPS_RULE)
    return url


def check_events(events: Any, scope: Scope) -> list[dict[str, str]]:
    """``[{type, version}]`` of events of ``scope``'s catalog, or BDC_1108 / BDC_1129."""
    if events is None or events == []:
        raise SimError("BDC_1108", "Missing required field: events")
    if not isinstance(events, list):
        raise SimError("BDC_1129", "events must be a list of {type, version} objects")
    allowed = EVENTS_BY_SCOPE[scope]
    checked: list[dict[str, str]] = []
    for event in events:
        kind = event.get("type") if isinstance(event, dict) else None
        if kind not in allowed:
            where = "with apiToken" if scope == "spend" else "with devKey and sessionId"
            raise SimError("BDC_1129", f"Unknown event type {kind!r} for a subscription made {where}")
        version = str(event.get("version", EVENT_VERSION))
        if version != EVENT_VERSION:
            raise SimError("BDC_1129", f"Unknown version {version!r} of event {kind}")
        if kind not in {e["type"] for e in checked}:
            checked.append({"type": kind, "version": version})
    return checked


def _check_status(status: Any) -> dict[str, bool]:
    if status is None:
        raise SimError("BDC_1108", "Missing required field: status")
    if not isinstance(status, dict) or not isinstance(status.get("enabled", True), bool):
        raise SimError("BDC_1129", 'status must be {"enabled": true|false}')
    return {"enabled": bool(status.get("enabled", True))}


def _check_name(name: Any) -> str:
    if name is None or name == "":
        raise SimError("BDC_1108", "Missing required field: name")
    if not isinstance(name, str):
        raise SimError("BDC_1129", "name must be a string")
    return name


class Subscriptions:
    """Every subscription of every organization, their security keys and idempotent answers."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        self._scopes: dict[str, Scope] = {}
        self._keys: dict[str, str] = {}
        self._by_org: dict[str, list[str]] = {}
        self._idempotent: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}
        self._in_progress: set[tuple[str, str, str]] = set()

    def has_any(self, org_id: str) -> bool:
        """Whether ``org_id`` has a subscription at all (the cheap test before any event work)."""
        return bool(self._by_org.get(org_id))

    def list(self, org_id: str, scope: Scope) -> list[dict[str, Any]]:
        """Subscriptions of ``org_id`` of one kind, oldest first (no security keys)."""
        return [self._records[i] for i in self._by_org.get(org_id, []) if self._scopes[i] == scope]

    def get(self, org_id: str, scope: Scope, sub_id: str) -> dict[str, Any]:
        """One subscription; 400 when there is none, 403 when it is another caller's."""
        record = self._records.get(sub_id)
        if record is None:
            raise SimError("BDC_1120", f"No subscription found with id {sub_id}.", status=400)
        if record["organizationId"] != org_id or self._scopes[sub_id] != scope:
            raise SimError("BDC_1120", f"Subscription {sub_id} is not yours.", status=403)
        return record

    def target(self, sub_id: str) -> tuple[str, str] | None:
        """Where and with which key to send a notification now: None if deleted or disabled."""
        record = self._records.get(sub_id)
        if record is None or not record["status"]["enabled"]:
            return None
        return record["notificationUrl"], self._keys[sub_id]

    def matching(self, org_id: str, event: str) -> builtins.list[dict[str, Any]]:
        """Enabled subscriptions of ``org_id`` that take ``event``."""
        found = []
        for sub_id in self._by_org.get(org_id, []):
            record = self._records[sub_id]
            if record["status"]["enabled"] and any(e["type"] == event for e in record["events"]):
                found.append(record)
        return found

    def begin(self, org_id: str, operation: str, key: str) -> None:
        """Mark an idempotent request under way; 429 while another with the same key runs."""
        slot = (org_id, operation, key)
        if slot in self._in_progress:
            raise SimError("BDC_1129", "A request with this X-Idempotent-Key is in progress.", status=429)
        self._in_progress.add(slot)

    def end(self, org_id: str, operation: str, key: str) -> None:
        """The idempotent request is over."""
        self._in_progress.discard((org_id, operation, key))

    def replay(self, org_id: str, operation: str, key: str, now: float) -> dict[str, Any] | None:
        """The answer already given to this key within 24 hours, if any."""
        found = self._idempotent.get((org_id, operation, key))
        if found is None or found[0] <= now:
            return None
        return found[1]

    def remember(self, org_id: str, operation: str, key: str, answer: dict[str, Any], now: float) -> None:
        """Keep ``answer`` for replays of ``key`` (errors are not kept: a retry runs again)."""
        self._idempotent = {k: v for k, v in self._idempotent.items() if v[0] > now}
        self._idempotent[(org_id, operation, key)] = (now + IDEMPOTENCY_SECONDS, answer)

    def _refuse_duplicate(self, org_id: str, record: dict[str, Any], *, skip: str = "") -> None:
        kinds = {e["type"] for e in record["events"]}
        for other_id in self._by_org.get(org_id, []):
            other = self._records[other_id]
            same_url = other["notificationUrl"] == record["notificationUrl"]
            if other_id != skip and same_url and {e["type"] for e in other["events"]} == kinds:
                raise SimError(
                    "BDC_1129", f"Subscription {other_id} already sends these events to this notificationUrl."
                )

    def create(self, org_id: str, scope: Scope, body: dict[str, Any], *, now: str) -> dict[str, Any]:
        """A new subscription; the answer (and only it) carries the ``securityKey``."""
        owned = self._by_org.setdefault(org_id, [])
        if len(owned) >= MAX_SUBSCRIPTIONS:
            raise SimError("BDC_1129", f"An organization can have at most {MAX_SUBSCRIPTIONS} subscriptions.")
        record: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "name": _check_name(body.get("name")),
            "organizationId": org_id,
            "status": _check_status(body.get("status")),
            "events": check_events(body.get("events"), scope),
            "notificationUrl": check_url(body.get("notificationUrl")),
            "createdTime": now,
            "updatedTime": now,
        }
        self._refuse_duplicate(org_id, record)
        sub_id = record["id"]
        self._records[sub_id] = record
        self._scopes[sub_id] = scope
        self._keys[sub_id] = secrets.token_urlsafe(32)
        owned.append(sub_id)
        return {**record, "securityKey": self._keys[sub_id]}

    def update(
        self, org_id: str, scope: Scope, sub_id: str, body: dict[str, Any], *, now: str, replace: bool
    ) -> dict[str, Any]:
        """PATCH (the fields given) or PUT (every required field) a subscription."""
        current = self.get(org_id, scope, sub_id)
        fields = ("name", "status", "events", "notificationUrl")
        if replace:
            for name in fields:
                if body.get(name) in (None, "", []):
                    raise SimError("BDC_1108", f"Missing required field: {name}")
        changed = dict(current)
        if "name" in body:
            changed["name"] = _check_name(body["name"])
        if "status" in body:
            changed["status"] = _check_status(body["status"])
        if "events" in body:
            changed["events"] = check_events(body["events"], scope)
        if "notificationUrl" in body:
            changed["notificationUrl"] = check_url(body["notificationUrl"])
        self._refuse_duplicate(org_id, changed, skip=sub_id)
        changed["updatedTime"] = now
        self._records[sub_id] = changed
        return changed

    def disable(self, sub_id: str, *, now: str) -> None:
        """Turn a subscription off (BILL does so when a notification keeps failing)."""
        record = self._records.get(sub_id)
        if record is not None:
            self._records[sub_id] = {**record, "status": {"enabled": False}, "updatedTime": now}

    def delete(self, org_id: str, scope: Scope, sub_id: str) -> None:
        """Delete a subscription (and its key)."""
        self.get(org_id, scope, sub_id)
        del self._records[sub_id]
        del self._scopes[sub_id]
        del self._keys[sub_id]
        self._by_org[org_id].remove(sub_id)

    def rotate_key(self, org_id: str, scope: Scope, sub_id: str) -> dict[str, Any]:
        """A new security key (shown once); notifications are signed with it from now on."""
        self.get(org_id, scope, sub_id)
        self._keys[sub_id] = secrets.token_urlsafe(32)
        return {"id": sub_id, "securityKey": self._keys[sub_id]}
