"""Spend & Expense families, served under ``/v3/spend`` behind the ``apiToken`` header."""

from __future__ import annotations

import base64

from billbridge.simulator.errors import SimError
from billbridge.simulator.families.base import (
    FamilySpec,
    GenContext,
    Generator,
    Record,
    Write,
    WriteHook,
    referenced,
)
from billbridge.simulator.families.checks import dates, enums, money
from billbridge.simulator.families.lists import SPEND_LISTS
from billbridge.simulator.families.values import amount, person

SPEND_ROLES = ("ADMIN", "AUDITOR", "BOOKKEEPER", "MEMBER", "NO_ACCESS")
# createbudget: when the budget's funds reset.
INTERVALS = ("NONE", "DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY")
BUDGET_ROLES = ("OWNER", "MEMBER", "OBSERVER")
MERCHANTS = ("Delta Air Lines", "Uber", "Staples", "AWS", "Blue Bottle Coffee", "Hilton", "Amazon", "Zoom")


def spend_id(ctx: GenContext, kind: str, serial: int) -> str:
    """S&E IDs are base64 of ``Kind:number`` (as the S&E API returns them)."""
    number = (ctx.org_index + 1) * 10_000_000 + serial + 1
    return base64.b64encode(f"{kind}:{number}".encode()).decode()


def _uuid(ctx: GenContext, kind: str, serial: int) -> str:
    """A UUID-shaped ID that depends only on (world, org, kind, serial)."""
    high = ctx.pick(kind, serial, 1 << 62)
    low = ctx.pick(kind + "/low", serial, 1 << 62)
    text = f"{high:016x}{low:016x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:32]}"


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
        "uuid": _uuid(ctx, "budget", serial),
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
    budget = ctx.pick("tx-budget", serial, ctx.records)
    parent = ctx.pick("budget-parent", budget, 4)
    return {
        "id": spend_id(ctx, "Transaction", serial),
        "cardId": spend_id(ctx, "Card", ctx.pick("tx-card", serial, ctx.records)),
        "userId": spend_id(ctx, "User", ctx.pick("tx-user", serial, ctx.records)),
        "budgetId": spend_id(ctx, "Budget", budget),
        # changelog 2026-01-26: the UUID of the budget's parent budget (most budgets have none).
        "parentBudgetUuid": _uuid(ctx, "budget", parent) if parent == 0 and budget else None,
        "transactionType": kind,
        "amount": amount(rng, 1, 3_000),
        "merchantName": rng.choice(MERCHANTS),
        "status": "DECLINED" if kind == "DECLINE" else rng.choice(("APPROVED", "COMPLETE")),
        "syncStatus": rng.choice(("NOT_SYNCED", "SYNCED", "ERROR")),
        # updatetransactioncustomfields: a locked transaction's custom fields cannot change.
        "isLocked": ctx.pick("tx-locked", serial, 10) == 0,
        "customFields": [],
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


def _user_write(write: Write) -> None:
    enums(write.record, {"role": SPEND_ROLES})


def _people(write: Write, field: str) -> list[str]:
    value = write.body.get(field, [])
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise SimError("BDC_1129", f"{field} must be a list of user ids")
    for user_id in value:
        referenced(write.refs, "users", user_id, what=f"{field} user")
    return value


def _budget_write(write: Write) -> None:
    record, body = write.record, write.body
    enums(record, {"recurringInterval": INTERVALS})
    dates(record, "expirationDate")
    if "limit" in body:
        record["limit"] = money(body["limit"], "limit")
    for field in ("owners", "members", "observers"):
        _people(write, field)
    if write.creating:
        # createbudget: at least one owner; the route makes owners, members and observers the
        # budget's members.
        if not write.body.get("owners"):
            raise SimError("BDC_1108", "Missing required field: owners")
        record["uuid"] = _uuid(write.ctx, "budget", write.serial)


def _card_write(write: Write) -> None:
    for field, family in (("userId", "users"), ("budgetId", "budgets")):
        if field in write.body:
            referenced(write.refs, family, write.body[field], what=field[:-2])
    enums(write.record, {"type": ("VIRTUAL", "PHYSICAL")})


#: Transaction fields a PATCH may not touch: what the card network reported (guessed list).
TRANSACTION_READ_ONLY = frozenset(
    {"cardId", "userId", "budgetId", "parentBudgetUuid", "transactionType", "amount", "merchantName",
     "status", "occurredTime", "authorizedTime", "isLocked", "customFields"}
)  # fmt: skip


def _transaction_write(write: Write) -> None:
    fixed = sorted(TRANSACTION_READ_ONLY & set(write.body))
    if fixed:
        raise SimError("BDC_1129", f"{fixed[0]} of a transaction cannot be changed")
    enums(write.record, {"syncStatus": ("NOT_SYNCED", "SYNCED", "ERROR")})


def _reimbursement_write(write: Write) -> None:
    if "userId" in write.body:
        referenced(write.refs, "users", write.body["userId"], what="user")
    if "amount" in write.body:
        write.record["amount"] = money(write.body["amount"], "amount", positive=True)


def _family(
    path: str,
    prefix: str,
    generate: Generator,
    *,
    required: tuple[str, ...] = (),
    initial: Record | None = None,
    inputs: frozenset[str] = frozenset(),
    on_write: WriteHook | None = None,
    creatable: bool = True,
    max_page: int = 100,
) -> FamilySpec:
    """An S&E family: sorted on one field, never archived; lists from :data:`SPEND_LISTS`."""
    return FamilySpec(
        path=path,
        prefix=prefix,
        generate=generate,
        filters=SPEND_LISTS[path].filters,
        sorts=SPEND_LISTS[path].sorts,
        required=required,
        initial=initial or {},
        inputs=inputs,
        on_write=on_write,
        creatable=creatable,
        archivable=False,
        single_sort=True,
        max_page=max_page,
    )


SPEND_USERS = _family(
    "users",
    "User",
    _user,
    required=("firstName", "lastName", "email", "role"),
    initial={"retired": False},
    on_write=_user_write,
)
SPEND_BUDGETS = _family(
    "budgets",
    "Budget",
    _budget,
    required=("name", "owners", "recurringInterval"),
    initial={"retired": False},
    inputs=frozenset({"owners", "members", "observers"}),
    on_write=_budget_write,
)
SPEND_CARDS = _family(
    "cards",
    "Card",
    _card,
    required=("name", "userId", "budgetId"),
    on_write=_card_write,
)
# Transactions come from the card network: listed, read and PATCHed (PATCH /v3/spend/transactions/{id}).
SPEND_TRANSACTIONS = _family(
    "transactions", "Transaction", _transaction, on_write=_transaction_write, creatable=False, max_page=50
)
SPEND_REIMBURSEMENTS = _family(
    "reimbursements",
    "Reimbursement",
    _reimbursement,
    required=("userId", "amount"),
    on_write=_reimbursement_write,
)
SPEND_CUSTOM_FIELDS = _family("custom-fields", "CustomField", _custom_field, required=("name", "type"))


def _no_generated_members(ctx: GenContext, serial: int) -> Record:
    raise AssertionError("budget members are seeded per budget, never generated by serial")


def budget_member(user: Record, budget_id: str, role: str, now: str) -> Record:
    """A member of a budget as ``GET /v3/spend/budgets/{id}/members`` lists it (shape guessed)."""
    return {
        "id": user["id"],
        "budgetId": budget_id,
        "role": role,
        "firstName": user.get("firstName"),
        "lastName": user.get("lastName"),
        "email": user.get("email"),
        "retired": False,
        "createdTime": now,
        "updatedTime": now,
    }


# A budget's members: one store per budget, the user's ID as the member's ID.
BUDGET_MEMBERS = _family("budgets/members", "User", _no_generated_members, required=("userId",))
