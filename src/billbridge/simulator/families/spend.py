"""Spend & Expense families, served under ``/v3/spend`` behind the ``apiToken`` header."""

from __future__ import annotations

import base64

from billbridge.simulator.families.base import (
    EQ_NE,
    SET,
    TIME_RANGE,
    FamilySpec,
    FieldRule,
    FieldType,
    GenContext,
    Generator,
    Record,
    rule,
    sort_rules,
)
from billbridge.simulator.families.values import amount, person

SPEND_ROLES = ("ADMIN", "AUDITOR", "BOOKKEEPER", "MEMBER", "NO_ACCESS")
MERCHANTS = ("Delta Air Lines", "Uber", "Staples", "AWS", "Blue Bottle Coffee", "Hilton", "Amazon", "Zoom")


def spend_id(ctx: GenContext, kind: str, serial: int) -> str:
    """S&E IDs are base64 of ``Kind:number`` (as the S&E API returns them)."""
    number = (ctx.org_index + 1) * 10_000_000 + serial + 1
    return base64.b64encode(f"{kind}:{number}".encode()).decode()


def _user(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("spend-users", serial)
    created, updated = ctx.stamps(rng, serial)
    first, last = person(rng)
    return {
        "id": spend_id(ctx, "User", serial),
        "firstName": first,
        "lastName": last,
        "email": f"{first.lower()}.{last.lower()}.{serial}@spend.example.com",
        "role": "ADMIN" if serial == 0 else rng.choice(SPEND_ROLES[1:]),
        "retired": rng.random() < 0.05,
        "createdTime": created,
        "updatedTime": updated,
    }


def _budget(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("spend-budgets", serial)
    created, updated = ctx.stamps(rng, serial)
    return {
        "id": spend_id(ctx, "Budget", serial),
        "name": f"{rng.choice(('Travel', 'Software', 'Meals', 'Marketing', 'Office'))} {serial + 1}",
        "description": "",
        "recurringInterval": rng.choice(("MONTHLY", "QUARTERLY", "YEARLY")),
        "limit": amount(rng, 500, 50_000),
        "retired": rng.random() < 0.05,
        "createdTime": created,
        "updatedTime": updated,
    }


def _card(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("spend-cards", serial)
    created, updated = ctx.stamps(rng, serial)
    return {
        "id": spend_id(ctx, "Card", serial),
        "name": f"Card {serial + 1}",
        "userId": spend_id(ctx, "User", ctx.pick("card-user", serial, ctx.records)),
        "budgetId": spend_id(ctx, "Budget", ctx.pick("card-budget", serial, ctx.records)),
        "lastFour": f"{rng.randrange(10_000):04d}",
        "type": rng.choice(("VIRTUAL", "PHYSICAL")),
        "status": rng.choice(("ACTIVE", "ACTIVE", "FROZEN", "CLOSED")),
        "createdTime": created,
        "updatedTime": updated,
    }


def _transaction(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("spend-transactions", serial)
    created, updated = ctx.stamps(rng, serial)
    kind = rng.choice(("AUTHORIZATION", "CLEAR", "CLEAR", "DECLINE"))
    return {
        "id": spend_id(ctx, "Transaction", serial),
        "cardId": spend_id(ctx, "Card", ctx.pick("tx-card", serial, ctx.records)),
        "userId": spend_id(ctx, "User", ctx.pick("tx-user", serial, ctx.records)),
        "budgetId": spend_id(ctx, "Budget", ctx.pick("tx-budget", serial, ctx.records)),
        "transactionType": kind,
        "amount": amount(rng, 1, 3_000),
        "merchantName": rng.choice(MERCHANTS),
        "status": "DECLINED" if kind == "DECLINE" else rng.choice(("APPROVED", "COMPLETE")),
        "syncStatus": rng.choice(("NOT_SYNCED", "SYNCED", "ERROR")),
        "occurredTime": created,
        "authorizedTime": created,
        "createdTime": created,
        "updatedTime": updated,
    }


def _reimbursement(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("spend-reimbursements", serial)
    created, updated = ctx.stamps(rng, serial)
    return {
        "id": spend_id(ctx, "Reimbursement", serial),
        "userId": spend_id(ctx, "User", ctx.pick("re-user", serial, ctx.records)),
        "amount": amount(rng, 5, 1_000),
        "merchantName": rng.choice(MERCHANTS),
        "status": rng.choice(("PENDING", "APPROVED", "DENIED", "PAID")),
        "occurredTime": created,
        "createdTime": created,
        "updatedTime": updated,
    }


def _custom_field(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("spend-custom-fields", serial)
    created, updated = ctx.stamps(rng, serial)
    return {
        "id": spend_id(ctx, "CustomField", serial),
        "name": f"{rng.choice(('Project', 'Client', 'Cost center', 'Event'))} {serial + 1}",
        "type": rng.choice(("SELECT", "TEXT")),
        "required": rng.random() < 0.3,
        "createdTime": created,
        "updatedTime": updated,
    }


def _family(
    path: str,
    prefix: str,
    generate: Generator,
    *,
    filters: tuple[tuple[str, FieldRule], ...],
    sorts: tuple[tuple[str, FieldType], ...],
    required: tuple[str, ...] = (),
    creatable: bool = True,
    max_page: int = 100,
) -> FamilySpec:
    """An S&E family: filterable by ``id`` and ``filters``, sorted on one field, never archived."""
    return FamilySpec(
        path=path,
        prefix=prefix,
        generate=generate,
        filters=dict([rule("id", "str", SET), *filters]),
        sorts=sort_rules(*sorts),
        required=required,
        creatable=creatable,
        archivable=False,
        single_sort=True,
        max_page=max_page,
    )


SPEND_USERS = _family(
    "users",
    "User",
    _user,
    filters=(rule("role", "str", SET), rule("retired", "bool", EQ_NE), *TIME_RANGE),
    sorts=(("firstName", "str"), ("lastName", "str"), ("createdTime", "datetime")),
    required=("firstName", "lastName", "email", "role"),
)
SPEND_BUDGETS = _family(
    "budgets",
    "Budget",
    _budget,
    filters=(rule("retired", "bool", EQ_NE), *TIME_RANGE),
    sorts=(("name", "str"), ("createdTime", "datetime")),
    required=("name",),
)
SPEND_CARDS = _family(
    "cards",
    "Card",
    _card,
    filters=(
        rule("userId", "str", SET),
        rule("budgetId", "str", SET),
        rule("status", "str", SET),
        *TIME_RANGE,
    ),
    sorts=(("name", "str"), ("createdTime", "datetime")),
    required=("name", "userId", "budgetId"),
)
SPEND_TRANSACTIONS = _family(
    "transactions",
    "Transaction",
    _transaction,
    filters=(
        rule("cardId", "str", frozenset({"eq"})),
        rule("syncStatus", "str", SET),
        rule("updatedTime", "datetime", frozenset({"gte", "lte"})),
        rule("authorizedTime", "datetime", frozenset({"gte", "lte"})),
    ),
    sorts=(("amount", "num"), ("merchantName", "str"), ("occurredTime", "datetime")),
    creatable=False,
    max_page=50,
)
SPEND_REIMBURSEMENTS = _family(
    "reimbursements",
    "Reimbursement",
    _reimbursement,
    filters=(rule("userId", "str", SET), rule("status", "str", SET), *TIME_RANGE),
    sorts=(("amount", "num"), ("occurredTime", "datetime")),
    required=("userId", "amount"),
)
SPEND_CUSTOM_FIELDS = _family(
    "custom-fields",
    "CustomField",
    _custom_field,
    filters=TIME_RANGE,
    sorts=(("name", "str"), ("createdTime", "datetime")),
    required=("name", "type"),
)
