"""Accounts-receivable families: customers, invoices, payments received, credit memos, recurring invoices."""

from __future__ import annotations

from billbridge.simulator.errors import SimError
from billbridge.simulator.families.ap import credit_family, recurring_family
from billbridge.simulator.families.base import FamilySpec, GenContext, Record, Write, referenced
from billbridge.simulator.families.checks import dates, enums, line_amount, line_items, require
from billbridge.simulator.families.lists import LISTS
from billbridge.simulator.families.values import (
    address,
    amount,
    company_email,
    company_name,
    person,
    phone,
    schedule,
)

CURRENCIES = ("USD", "USD", "USD", "CAD", "GBP")
INVOICE_STATUSES = ("OPEN", "PARTIAL_PAYMENT", "PAID_IN_FULL", "SCHEDULED")


def customer_ref(ctx: GenContext, family: str, serial: int) -> str:
    """The customerId a record of ``family`` points at."""
    return ctx.id("0cu", ctx.pick(family, serial, ctx.records))


def _customer(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("customers", serial)
    created, updated = ctx.stamps(rng, serial)
    name = company_name(ctx, "customers", serial)
    first, last = person(rng)
    billing = address(rng)
    return {
        "id": ctx.id("0cu", serial),
        "archived": rng.random() < 0.05,
        "name": name,
        "companyName": name,
        "accountType": rng.choice(("BUSINESS", "PERSON")),
        "email": company_email("billing", name),
        "phone": phone(rng),
        "contact": {"firstName": first, "lastName": last},
        "accountNumber": f"C-{serial + 1:06d}",
        "description": "",
        "invoiceCurrency": rng.choice(CURRENCIES),
        "billingAddress": billing,
        "shippingAddress": billing,
        "createdTime": created,
        "updatedTime": updated,
    }


def _invoice(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("invoices", serial)
    created, updated = ctx.stamps(rng, serial)
    quantity = rng.randrange(1, 10)
    price = amount(rng, 10, 2_500)
    total = round(quantity * price, 2)
    status = rng.choice(INVOICE_STATUSES)
    due = {"PAID_IN_FULL": 0.0, "PARTIAL_PAYMENT": round(total / 2, 2)}.get(status, total)
    return {
        "id": ctx.id("00e", serial),
        "archived": rng.random() < 0.05,
        "invoiceNumber": f"{serial + 1001}",
        "invoiceDate": ctx.date_near(rng, serial, days=2),
        "dueDate": ctx.date_near(rng, serial, days=45),
        "customerId": customer_ref(ctx, "invoices", serial),
        "totalAmount": total,
        "dueAmount": due,
        "status": status,
        "payToChartOfAccountId": ctx.any_id(rng, "0ca"),
        "invoiceLineItems": [
            {
                "id": f"00f{rng.randrange(10**16, 10**17)}",
                "quantity": quantity,
                "price": price,
                "description": rng.choice(("Services rendered", "Hardware", "Support plan", "Training")),
            }
        ],
        "createdTime": created,
        "updatedTime": updated,
    }


def invoice_status(total: float, due: float) -> str:
    """An invoice's ``status`` from what is left to pay."""
    if due <= 0:
        return "PAID_IN_FULL"
    return "PARTIAL_PAYMENT" if due < total else "OPEN"


def _customer_write(write: Write) -> None:
    enums(write.record, {"accountType": ("BUSINESS", "PERSON", "NONE")})


def _invoice_customer(write: Write) -> None:
    """``customer: {id}`` names an existing customer; ``customer: {name, email}`` creates one
    (docs/ar-invoices), never matched to an existing customer of that name."""
    record, body = write.record, write.body
    customer = body.get("customer")
    if customer is not None:
        if not isinstance(customer, dict):
            raise SimError("BDC_1129", "customer must be an object with an id, or a name and email")
        if customer.get("id"):
            record["customerId"] = referenced(write.refs, "customers", customer["id"], what="customer")["id"]
        else:
            require(customer, ("name", "email"))
            created = write.refs.create(
                "customers", {"name": customer["name"], "email": customer["email"]}, now=write.now
            )
            record["customerId"] = created["id"]
    elif "customerId" in body:
        referenced(write.refs, "customers", body["customerId"], what="customer")
    if write.creating and not record.get("customerId"):
        raise SimError("BDC_1108", "Missing required field: customer")


def _invoice_write(write: Write) -> None:
    record, body = write.record, write.body
    _invoice_customer(write)
    if write.creating:
        # changelog 2024-09-27: without invoiceDate, the invoice is dated the day it is created.
        record.setdefault("invoiceDate", write.today())
        # bill-api: BILL numbers an invoice sent without one (the numbering itself is guessed).
        record.setdefault("invoiceNumber", str(write.serial + 1001))
    dates(record, "invoiceDate", "dueDate")
    if "invoiceLineItems" in body:
        items = line_items(body["invoiceLineItems"], "invoiceLineItems")
        stream = write.ctx.rng("invoice-line-items", len(str(record["id"])))
        lines = []
        for item in items:
            # docs/ar-invoices: each line sets its quantity; the price defaults to nothing.
            require(item, ("quantity",))
            line = {"id": item.get("id") or f"00f{stream.randrange(10**16, 10**17)}", **item}
            line["amount"] = line_amount({"price": 0, **item}, "invoiceLineItems")
            lines.append(line)
        record["invoiceLineItems"] = lines
        paid = 0.0 if write.creating else round(record.get("totalAmount", 0) - record.get("dueAmount", 0), 2)
        record["totalAmount"] = round(sum(line["amount"] for line in lines), 2)
        record["dueAmount"] = round(max(record["totalAmount"] - paid, 0.0), 2)
        record["status"] = invoice_status(record["totalAmount"], record["dueAmount"])


def _receivable_payment(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("receivable-payments", serial)
    created, updated = ctx.stamps(rng, serial)
    paid = amount(rng, 10, 10_000)
    return {
        "id": ctx.id("0rp", serial),
        "customerId": customer_ref(ctx, "receivable-payments", serial),
        "paymentDate": ctx.date_near(rng, serial, days=3),
        "paymentType": rng.choice(("CASH", "CHECK", "CREDIT_CARD", "ACH", "PAYPAL", "OTHER")),
        "amount": paid,
        "status": "PAID",
        "invoices": [{"id": ctx.id("00e", ctx.pick("rp-invoices", serial, ctx.records)), "amount": paid}],
        "createdTime": created,
        "updatedTime": updated,
    }


def _credit_memo(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("credit-memos", serial)
    created, updated = ctx.stamps(rng, serial)
    total = amount(rng, 10, 1_500)
    return {
        "id": ctx.id("ccr", serial),
        "archived": rng.random() < 0.05,
        "customerId": customer_ref(ctx, "credit-memos", serial),
        "referenceNumber": f"CM-{serial + 1}",
        "creditDate": ctx.date_near(rng, serial, days=3),
        "amount": total,
        "appliedAmount": rng.choice((0.0, total)),
        "description": "Goodwill credit",
        "creditMemoLineItems": [{"amount": total, "description": "Credit"}],
        "createdTime": created,
        "updatedTime": updated,
    }


def _recurring_invoice(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("recurring-invoices", serial)
    created, updated = ctx.stamps(rng, serial)
    price = amount(rng, 20, 3_000)
    return {
        "id": ctx.id("rit", serial),
        "archived": rng.random() < 0.05,
        "customerId": customer_ref(ctx, "recurring-invoices", serial),
        "description": rng.choice(("Monthly retainer", "Subscription", "Maintenance")),
        "schedule": schedule(ctx, rng, serial, periods=("MONTHLY", "WEEKLY", "YEARLY"), days_in_advance=3),
        "recurringInvoiceLineItems": [{"quantity": 1, "price": price, "description": "Recurring service"}],
        "createdTime": created,
        "updatedTime": updated,
    }


CUSTOMERS = FamilySpec(
    path="customers",
    prefix="0cu",
    generate=_customer,
    filters=LISTS["customers"].filters,
    sorts=LISTS["customers"].sorts,
    required=("name", "email"),
    on_write=_customer_write,
    event="customer",
)

INVOICES = FamilySpec(
    path="invoices",
    prefix="00e",
    generate=_invoice,
    filters=LISTS["invoices"].filters,
    sorts=LISTS["invoices"].sorts,
    # docs/ar-invoices: only the customer and the line items are required.
    required=("invoiceLineItems",),
    inputs=frozenset({"customer", "customerId", "processingOptions"}),
    on_write=_invoice_write,
    replaceable=True,
    event="invoice",
)

RECEIVABLE_PAYMENTS = FamilySpec(
    path="receivable-payments",
    prefix="0rp",
    generate=_receivable_payment,
    filters=LISTS["receivable-payments"].filters,
    sorts=LISTS["receivable-payments"].sorts,
    creatable=False,
    archivable=False,
)

CREDIT_MEMOS = credit_family("credit-memos", "ccr", generate=_credit_memo, party="customerId")

RECURRING_INVOICES = recurring_family(
    "recurring-invoices", "rit", generate=_recurring_invoice, party="customerId"
)
