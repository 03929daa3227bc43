"""Events from record changes: the payloads of ``docs/notification-payloads-reference``, the event
history of each subscription (``GET /v3/events/subscription/{id}``), resends and test events.

``record_changed`` is the object store's change listener; it returns at once for an organization
without subscriptions, so the machinery costs nothing until someone subscribes.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import orjson

from billbridge.simulator.clock import SimClock, bill_timestamp
from billbridge.simulator.errors import SimError
from billbridge.simulator.events import Subscriptions
from billbridge.simulator.families import Record
from billbridge.simulator.store import FamilyStore
from billbridge.simulator.webhook_catalog import EVENT_VERSION, event_type, payload_key
from billbridge.simulator.webhook_delivery import Deliveries, Delivery

#: Event history kept per subscription (BILL: 180 days).
HISTORY_SECONDS = 180 * 86_400
#: At most this many events are kept per subscription (the oldest go first).
HISTORY_LIMIT = 10_000
HISTORY_MAX_PAGE = 100


def _page_token(sub_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([sub_id, offset])).decode().rstrip("=")


def _page_offset(token: str, sub_id: str) -> int:
    try:
        name, offset = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, TypeError):
        raise SimError("BDC_1129", "Invalid page token") from None
    if name != sub_id or not isinstance(offset, int) or offset < 0:
        raise SimError("BDC_1129", "Invalid page token")
    return offset


def _page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return 20
    if not raw.isdigit() or not 1 <= int(raw) <= HISTORY_MAX_PAGE:
        raise SimError("BDC_1129", f"max must be between 1 and {HISTORY_MAX_PAGE}")
    return int(raw)


def _with_documented_extras(event: str, obj: Record, store: FamilyStore) -> Record:
    """Fields BILL adds to notifications beyond the object as the API returns it."""
    vendor_id = obj.get("vendorId")
    if not vendor_id or not event.startswith(("bill.", "payment.")):
        return obj
    name = obj.get("vendorName")
    if name is None:
        vendor = store.refs.find("vendors", str(vendor_id)) if store.refs else None
        name = vendor.get("name") if vendor is not None else None
    if event.startswith("bill."):
        # Every bill notification names the vendor (changelog 2025-04-10).
        if name is not None:
            obj.setdefault("vendorName", name)
    else:
        # payment.updated carries the vendor and where the payment came from (changelog 2024-09-16);
        # payments here are made through the API, which BILL reports as BDC.
        obj.setdefault("vendor", {"id": vendor_id, "name": name})
        obj.setdefault("billingType", "BDC")
    return obj


class Webhooks:
    """Event history and deliveries of every subscription.

    Args:
        subscriptions: The subscriptions that events go to.
        clock: The simulator's clock.
    """

    def __init__(self, subscriptions: Subscriptions, clock: SimClock) -> None:
        self.subscriptions = subscriptions
        self._clock = clock
        #: Event DTOs by subscription, then event id, oldest first; with their epoch.
        self._history: dict[str, dict[str, tuple[float, dict[str, Any]]]] = {}
        self.deliveries = Deliveries(
            clock, target_for=subscriptions.target, on_result=self._record_result, on_give_up=self._give_up
        )

    def record_changed(
        self, org_id: str, space: str, store: FamilyStore, change: str, record: Record
    ) -> None:
        """The store's change listener: notify every subscription that takes this change's event."""
        if not self.subscriptions.has_any(org_id):
            return
        event = event_type(space, store.spec.path, change)
        if event is None:
            return
        targets = self.subscriptions.matching(org_id, event)
        if not targets:
            return
        obj = _with_documented_extras(event, dict(record), store)
        for subscription in targets:
            self.notify(subscription, event, obj)

    def notify(self, subscription: dict[str, Any], event: str, obj: Record) -> dict[str, Any]:
        """Record a new event for ``subscription`` and queue its notification; returns the event."""
        event_id = str(uuid.uuid4())
        payload = {
            "metadata": {
                "eventId": event_id,
                "subscriptionId": subscription["id"],
                "organizationId": subscription["organizationId"],
                "eventType": event,
                "version": EVENT_VERSION,
            },
            payload_key(event): obj,
        }
        body = orjson.dumps(payload)
        now = self._clock.now()
        dto: dict[str, Any] = {
            "id": event_id,
            "type": event,
            "version": EVENT_VERSION,
            "subscriptionId": subscription["id"],
            "payload": body.decode(),
            "createdTime": bill_timestamp(now),
            "statusCode": None,
        }
        history = self._history.setdefault(subscription["id"], {})
        history[event_id] = (now, dto)
        if len(history) > HISTORY_LIMIT:
            del history[next(iter(history))]
        self._send(subscription, dto)
        return dto

    def _send(self, subscription: dict[str, Any], dto: dict[str, Any]) -> None:
        self.deliveries.enqueue(
            event_id=dto["id"],
            event_type=dto["type"],
            subscription_id=subscription["id"],
            url=subscription["notificationUrl"],
            body=dto["payload"].encode(),
        )

    def _live_history(self, sub_id: str) -> dict[str, tuple[float, dict[str, Any]]]:
        history = self._history.get(sub_id, {})
        horizon = self._clock.now() - HISTORY_SECONDS
        for event_id in [e for e, (at, _) in history.items() if at < horizon]:
            del history[event_id]
        return history

    def events(self, sub_id: str, *, max_raw: str | None, page: str | None) -> dict[str, Any]:
        """One page of the events sent to a subscription in the last 180 days, oldest first."""
        size = _page_size(max_raw)
        offset = _page_offset(page, sub_id) if page else 0
        dtos = [dto for _, dto in self._live_history(sub_id).values()]
        answer: dict[str, Any] = {"results": dtos[offset : offset + size]}
        if offset + size < len(dtos):
            answer["nextPage"] = _page_token(sub_id, offset + size)
        if offset > 0:
            answer["prevPage"] = _page_token(sub_id, max(0, offset - size))
        return answer

    def resend(self, subscription: dict[str, Any], event_id: str) -> dict[str, Any]:
        """Send an event of the history again (same event ID and payload) to the current URL."""
        found = self._live_history(subscription["id"]).get(event_id)
        if found is None:
            raise SimError(
                "BDC_1120", f"No event {event_id} for subscription {subscription['id']}.", status=400
            )
        self._send(subscription, found[1])
        return found[1]

    def forget(self, sub_id: str) -> None:
        """Drop the history of a deleted subscription."""
        self._history.pop(sub_id, None)

    def _record_result(self, delivery: Delivery) -> None:
        found = self._history.get(delivery.subscription_id, {}).get(delivery.event_id)
        if found is not None:
            found[1]["statusCode"] = delivery.response_codes[-1] if delivery.response_codes else None

    def _give_up(self, sub_id: str) -> None:
        self.subscriptions.disable(sub_id, now=bill_timestamp(self._clock.now()))

    def close(self) -> None:
        """Stop delivering (the simulator is being reset)."""
        self.deliveries.close()
