"""Accounts-payable families: vendors, bills, vendor credits, recurring bills; and the two family
shapes accounts receivable mirrors (credits and recurring templates held by a vendor or customer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from billbridge.simulator.errors import SimError
from billbridge.simulator.families.base import (
    EQ_NE,
    RANGE,
    SET,
    Draw,
    FamilySpec,
    FieldRule,
    GenContext,
    Generator,
    Record,
    Resolver,
    common_filters,
    common_sorts,
    referenced,
    rule,
)
from billbridge.simulator.families.values import address, amount, company_email, company_name, phone, schedule

CURRENCIES = ("USD", "USD", "USD", "CAD", "EUR")
BILL_STATUSES = ("UNPAID", "SCHEDULED", "IN_PROCESS", "PARTIALLY_PAID", "PAID")
ACCOUNT_TYPES = ("BUSINESS", "PERSON", "NONE")


def vendor_ref(ctx: GenContext, family: str, serial: int) -> tuple[str, str]:
    """(vendorId, vendorName) of the vendor a record of ``family`` points at."""
    target = ctx.pick(family, serial, ctx.records)
    return ctx.id("009", target), company_name(ctx, "vendors", target)


def party_rule(party: str) -> tuple[str, FieldRule]:
    """The filter on the vendor or customer a record belongs to (``vendorId``, ``customerId``)."""
    return rule(party, "str", frozenset({"eq", "in"}))


def credit_family(
    path: str,
    prefix: str,
    *,
    generate: Generator,
    party: str,
    filters: tuple[tuple[str, FieldRule], ...] = (),
) -> FamilySpec:
    """A family of credits held by a vendor or customer (vendor credits, credit memos)."""
    return FamilySpec(
        path=path,
        prefix=prefix,
        generate=generate,
        filters=common_filters(party_rule(party), *filters),
        sorts=common_sorts(("creditDate", "date"), ("amount", "num")),
        required=(party, "amount"),
        replaceable=True,
    )


def recurring_family(
    path: str,
    prefix: str,
    *,
    generate: Generator,
    party: str,
    protected: Callable[[str, Record], bool] | None = None,
) -> FamilySpec:
    """A family of templates that bill a vendor or customer on a schedule (recurring bills and
    invoices); ``protected`` as in :class:`FamilySpec` (default: nothing protected)."""
    spec = FamilySpec(
        path=path,
        prefix=prefix,
        generate=generate,
        filters=common_filters(party_rule(party)),
        sorts=common_sorts(),
        required=(party, "schedule"),
        replaceable=True,
    )
    return spec if protected is None else replace(spec, protected=protected)


def _vendor(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("vendors", serial)
    created, updated = ctx.stamps(rng, serial)
    name = company_name(ctx, "vendors", serial)
    return {
        "id": ctx.id("009", serial),
        "archived": rng.random() < 0.05,
        "name": name,
        "shortName": name.split()[0],
        "accountType": ACCOUNT_TYPES[rng.randrange(3)],
        "email": company_email("ap", name),
        "phone": phone(rng),
        "address": address(rng),
        "billCurrency": rng.choice(CURRENCIES),
        "paymentInformation": {"payeeName": name, "payByType": rng.choice(("CHECK", "ACH", "VIRTUAL_CARD"))},
        "additionalInfo": {"taxId": f"{rng.randrange(10, 99)}-{rng.randrange(1_000_000, 9_999_999)}"},
        "autoPay": {"enabled": False},
        "networkStatus": rng.choice(("NOT_CONNECTED", "CONNECTED")),
        "createdTime": created,
        "updatedTime": updated,
    }


def _line_items(ctx: GenContext, rng: Draw, prefix: str, total: float) -> list[Record]:
    count = rng.randrange(1, 4)
    shares = [round(total / count, 2)] * count
    shares[-1] = round(total - sum(shares[:-1]), 2)
    return [
        {
            "id": f"{prefix}{rng.randrange(10**16, 10**17)}",
            "amount": share,
            "description": rng.choice(("Consulting", "Supplies", "Freight", "Software", "Rent")),
            "classifications": {
                "chartOfAccountId": ctx.any_id(rng, "0ca"),
                "departmentId": ctx.any_id(rng, "0de"),
            },
        }
        for share in shares
    ]


def _bill(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("bills", serial)
    created, updated = ctx.stamps(rng, serial)
    vendor_id, vendor_name = vendor_ref(ctx, "bills", serial)
    total = amount(rng, 20, 25_000)
    status = rng.choice(BILL_STATUSES)
    due = {"PAID": 0.0, "PARTIALLY_PAID": round(total / 2, 2)}.get(status, total)
    return {
        "id": ctx.id("00n", serial),
        "archived": rng.random() < 0.05,
        "vendorId": vendor_id,
        "vendorName": vendor_name,
        "invoice": {
            "invoiceNumber": f"INV-{serial + 1000}",
            "invoiceDate": ctx.date_near(rng, serial, days=3),
        },
        "dueDate": ctx.date_near(rng, serial, days=60),
        "amount": total,
        "dueAmount": due,
        "paymentStatus": status,
        "approvalStatus": rng.choice(("UNASSIGNED", "APPROVED", "PENDING")),
        "payFromChartOfAccountId": ctx.any_id(rng, "0ca"),
        "billLineItems": _line_items(ctx, rng, "bli", total),
        "vendorCredits": [],
        "createdTime": created,
        "updatedTime": updated,
    }


def _vendor_credit(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("vendor-credits", serial)
    created, updated = ctx.stamps(rng, serial)
    vendor_id, _ = vendor_ref(ctx, "vendor-credits", serial)
    total = amount(rng, 10, 2_000)
    applied = rng.choice((0.0, round(total / 2, 2), total))
    status = "NOT_APPLIED" if applied == 0 else ("FULLY_APPLIED" if applied == total else "PARTIALLY_APPLIED")
    return {
        "id": ctx.id("vcr", serial),
        "archived": rng.random() < 0.05,
        "vendorId": vendor_id,
        "referenceNumber": f"VC-{serial + 1}",
        "creditDate": ctx.date_near(rng, serial, days=5),
        "amount": total,
        "appliedAmount": applied,
        "description": "Returned goods",
        "vendorCreditStatus": status,
        "vendorCreditLineItems": [{"amount": total, "description": "Credit"}],
        "usage": [],
        "createdTime": created,
        "updatedTime": updated,
    }


def _recurring_bill(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("recurringbills", serial)
    created, updated = ctx.stamps(rng, serial)
    vendor_id, _ = vendor_ref(ctx, "recurringbills", serial)
    total = amount(rng, 50, 5_000)
    return {
        "id": ctx.id("btp", serial),
        "archived": rng.random() < 0.05,
        "vendorId": vendor_id,
        "description": rng.choice(("Monthly rent", "Cloud hosting", "Cleaning", "Insurance")),
        "schedule": schedule(ctx, rng, serial, periods=("MONTHLY", "WEEKLY", "QUARTERLY"), days_in_advance=5),
        "recurringBillLineItems": [{"amount": total, "description": "Recurring charge"}],
        "processingOptions": {"autoPayment": False},
        "createdTime": created,
        "updatedTime": updated,
    }


def _bill_write(ctx: GenContext, body: Record, record: Record, resolve: Resolver) -> None:
    if "vendorId" in body:
        record["vendorName"] = referenced(resolve, "vendors", body["vendorId"], what="vendor")["name"]
    if "billLineItems" in body:
        items = body["billLineItems"]
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise SimError("BDC_1129", "billLineItems must be a non-empty list of objects")
        try:
            total = round(sum(float(item.get("amount", 0)) for item in items), 2)
        except (TypeError, ValueError):
            raise SimError("BDC_1129", "Invalid line item amount") from None
        stream = ctx.rng("bill-line-items", len(str(record["id"])))
        record["billLineItems"] = [
            {"id": item.get("id") or f"bli{stream.randrange(10**16, 10**17)}", **item} for item in items
        ]
        record["amount"] = record["dueAmount"] = total
        record["paymentStatus"] = "UNPAID"


def _autopay_on(action: str, body: Record) -> bool:
    auto = body.get("autoPay")
    return bool(auto.get("enabled") if isinstance(auto, dict) else auto)


def _recurring_autopay_on(action: str, body: Record) -> bool:
    options = body.get("processingOptions")
    return bool(body.get("autoPayment") or (isinstance(options, dict) and options.get("autoPayment")))


VENDORS = FamilySpec(
    path="vendors",
    prefix="009",
    generate=_vendor,
    filters=common_filters(
        rule("name", "str", frozenset({"eq", "sw"})),
        rule("accountType", "str", SET),
        rule("address.country", "str", EQ_NE),
        rule("billCurrency", "str", SET),
        rule("email", "str", EQ_NE),
    ),
    sorts=common_sorts(("name", "str"), ("email", "str")),
    required=("name",),
    protected=_autopay_on,
    event="vendor",
)

BILLS = FamilySpec(
    path="bills",
    prefix="00n",
    generate=_bill,
    filters=common_filters(
        party_rule("vendorId"),
        rule("dueDate", "date", RANGE),
        rule("paymentStatus", "str", frozenset({"eq", "ne", "in"})),
        rule("amount", "num", RANGE | EQ_NE),
        rule("payFromChartOfAccountId", "str", frozenset({"eq", "ne", "in"})),
        rule(
            "classifications.chartOfAccountId",
            "str",
            frozenset({"eq", "ne", "in"}),
            path="billLineItems.[].classifications.chartOfAccountId",
        ),
        rule(
            "classifications.departmentId",
            "str",
            frozenset({"eq", "ne", "in"}),
            path="billLineItems.[].classifications.departmentId",
        ),
    ),
    sorts=common_sorts(("dueDate", "date"), ("amount", "num")),
    required=("vendorId", "dueDate", "billLineItems"),
    on_write=_bill_write,
    replaceable=True,
    event="bill",
)

VENDOR_CREDITS = credit_family(
    "vendor-credits",
    "vcr",
    generate=_vendor_credit,
    party="vendorId",
    filters=(rule("vendorCreditStatus", "str", SET),),
)

RECURRING_BILLS = recurring_family(
    "recurringbills", "btp", generate=_recurring_bill, party="vendorId", protected=_recurring_autopay_on
)
