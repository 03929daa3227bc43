"""BILL's webhook event catalog, and which record change of which family raises which event.

Event names and payload keys follow ``docs/notification-payloads-reference``; ``vendor`` and
``bill`` keys are shown there, the other keys follow the same pattern (the object's name).
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

Scope = Literal["v3", "spend"]

#: AP/AR events, subscribed to with ``devKey`` + ``sessionId``.
V3_EVENTS: Final = (
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
)
#: Spend & Expense events, subscribed to with the ``apiToken`` header.
SPEND_EVENTS: Final = (
    "spend.transaction.updated",
    "spend.reimbursement.created",
    "spend.reimbursement.updated",
    "spend.reimbursement.deleted",
    "spend.three-ds-challenge.created",
)
EVENT_TYPES: Final = V3_EVENTS + SPEND_EVENTS
EVENTS_BY_SCOPE: Final[dict[Scope, tuple[str, ...]]] = {"v3": V3_EVENTS, "spend": SPEND_EVENTS}
EVENT_VERSION: Final = "1"


class Topic(NamedTuple):
    """The events of one family: the event name prefix and the payload's object key."""

    prefix: str
    key: str


#: Families whose changes raise events, by (space, family path).
TOPICS: Final[dict[tuple[str, str], Topic]] = {
    ("v3", "vendors"): Topic("vendor", "vendor"),
    ("v3", "bills"): Topic("bill", "bill"),
    ("v3", "payments"): Topic("payment", "payment"),
    ("v3", "invoices"): Topic("invoice", "invoice"),
    ("v3", "funding-accounts/banks"): Topic("bank-account", "bankAccount"),
    ("v3", "funding-accounts/cards"): Topic("card-account", "cardAccount"),
    ("spend", "transactions"): Topic("spend.transaction", "transaction"),
    ("spend", "reimbursements"): Topic("spend.reimbursement", "reimbursement"),
}


def event_type(space: str, family: str, change: str) -> str | None:
    """The event a ``change`` of a ``family`` record raises, or None when BILL has none.

    A family without archive/restore events (bank accounts, payments) reports those changes as
    ``.updated``; a creation without a ``.created`` event (payments) raises nothing.
    """
    topic = TOPICS.get((space, family))
    if topic is None:
        return None
    name = f"{topic.prefix}.{change}"
    if name in EVENT_TYPES:
        return name
    if change in ("archived", "restored"):
        fallback = f"{topic.prefix}.updated"
        return fallback if fallback in EVENT_TYPES else None
    return None


def payload_key(event: str) -> str:
    """The key of the changed object in the payload of ``event`` (``vendor`` for ``vendor.updated``)."""
    prefix = event.rsplit(".", 1)[0]
    for topic in TOPICS.values():
        if topic.prefix == prefix:
            return topic.key
    # Events no record change raises (autopay.failed, risk-verification.updated, 3-D Secure).
    return {"autopay": "vendor", "risk-verification": "riskVerification"}.get(prefix, prefix.split(".")[-1])


def family_of(event: str) -> tuple[str, str] | None:
    """The (space, family path) whose records ``event`` describes, if any."""
    prefix = event.rsplit(".", 1)[0]
    for where, topic in TOPICS.items():
        if topic.prefix == prefix:
            return where
    return None
