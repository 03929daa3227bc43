"""Accounts-payable families: vendors, bills, vendor credits, recurring bills; and the two family
shapes accounts receivable mirrors (credits and recurring templates held by a vendor or customer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from billbridge.simulator.families.base import (
    Draw,
    FamilySpec,
    GenContext,
    Generator,
    Record,
    Write,
    referenced,
)
from billbridge.simulator.families.checks import dates, enums, line_amount, line_items, money, require
from billbridge.simulator.families.lists import LISTS
from billbridge.simulator.families.values import address, amount, company_email, company_name, phone, schedule

CURRENCIES = ("USD", "USD", "USD", "CAD", "EUR")
BILL_STATUSES = ("UNPAID", "SCHEDULED", "IN_PROCESS", "PARTIALLY_PAID", "PAID")
ACCOUNT_TYPES = ("BUSINESS", "PERSON", "NONE")


def vendor_ref(ctx: GenContext, family: str, serial: int) -> tuple[str, str]:
    """(vendorId, vendorName) of the vendor a record of ``family`` points at."""
    target = ctx.pick(family, serial, ctx.records)
    return ctx.id("009", target), company_name(ctx, "vendors", target)


def credit_family(
    path: str,
    prefix: str,
    *,
    generate: Generator,
    party: str,
) -> FamilySpec:
    """A family of credits held by a vendor or customer (vendor credits, credit memos)."""
    return FamilySpec(
        path=path,
        prefix=prefix,
        generate=generate,
        filters=LISTS[path].filters,
        sorts=LISTS[path].sorts,
        required=(party, "amount"),
        initial={"appliedAmount": 0.0},
        on_write=_credit_write,
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
        filters=LISTS[path].filters,
        sorts=LISTS[path].sorts,
        required=(party, "schedule"),
        on_write=_recurring_write,
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


def payment_status(amount: float, due: float) -> str:
    """A bill's ``paymentStatus`` from what is left to pay."""
    if due <= 0:
        return "PAID"
    return "PARTIALLY_PAID" if due < amount else "UNPAID"


def _vendor_write(write: Write) -> None:
    enums(write.record, {"accountType": ACCOUNT_TYPES})


def _bill_write(write: Write) -> None:
    record, body = write.record, write.body
    if write.creating:
        require(body, ("invoice.invoiceNumber", "invoice.invoiceDate"))
    dates(record, "dueDate", "invoice.invoiceDate")
    if "vendorId" in body:
        record["vendorName"] = referenced(write.refs, "vendors", body["vendorId"], what="vendor")["name"]
    if "billLineItems" in body:
        items = line_items(body["billLineItems"], "billLineItems")
        stream = write.ctx.rng("bill-line-items", len(str(record["id"])))
        lines = []
        for item in items:
            line = {"id": item.get("id") or f"bli{stream.randrange(10**16, 10**17)}", **item}
            line["amount"] = line_amount(item, "billLineItems")
            lines.append(line)
        record["billLineItems"] = lines
        paid = 0.0 if write.creating else round(record.get("amount", 0) - record.get("dueAmount", 0), 2)
        record["amount"] = round(sum(line["amount"] for line in lines), 2)
        record["dueAmount"] = round(max(record["amount"] - paid, 0.0), 2)
        record["paymentStatus"] = payment_status(record["amount"], record["dueAmount"])


def _party_write(write: Write) -> None:
    party = "vendorId" if "vendorId" in write.record else "customerId"
    if party in write.body:
        family = "vendors" if party == "vendorId" else "customers"
        referenced(write.refs, family, write.body[party], what=family[:-1])


def _credit_write(write: Write) -> None:
    _party_write(write)
    dates(write.record, "creditDate")
    if "amount" in write.body:
        write.record["amount"] = money(write.body["amount"], "amount", positive=True)


def _recurring_write(write: Write) -> None:
    _party_write(write)
    dates(write.record, "schedule.nextDueDate")


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
    filters=LISTS["vendors"].filters,
    sorts=LISTS["vendors"].sorts,
    # docs/creating-a-us-vendor: name, account type, email and phone (an address and bank details
    # only for checks and electronic payments).
    required=("name", "accountType", "email", "phone"),
    on_write=_vendor_write,
    protected=_autopay_on,
    event="vendor",
)

BILLS = FamilySpec(
    path="bills",
    prefix="00n",
    generate=_bill,
    filters=LISTS["bills"].filters,
    sorts=LISTS["bills"].sorts,
    # docs/ap-bills: the vendor, the bill's invoice number and date, a due date and line items.
    required=("vendorId", "invoice", "dueDate", "billLineItems"),
    on_write=_bill_write,
    replaceable=True,
    event="bill",
)

# archivevendorcredit: "An archived vendor credit cannot be restored."
VENDOR_CREDITS = replace(
    credit_family("vendor-credits", "vcr", generate=_vendor_credit, party="vendorId"),
    initial={"appliedAmount": 0.0, "vendorCreditStatus": "NOT_APPLIED"},
    restorable=False,
)

RECURRING_BILLS = recurring_family(
    "recurringbills", "btp", generate=_recurring_bill, party="vendorId", protected=_recurring_autopay_on
)
