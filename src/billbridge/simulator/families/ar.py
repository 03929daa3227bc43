"""Accounts-receivable families: customers, invoices, payments received, credit memos, recurring invoices."""

from __future__ import annotations

from billbridge.simulator.errors import SimError
from billbridge.simulator.families.ap import credit_family, party_rule, recurring_family
from billbridge.simulator.families.base import (
    EQ_NE,
    RANGE,
    SET,
    TIME_RANGE,
    FamilySpec,
    GenContext,
    Record,
    Resolver,
    common_filters,
    common_sorts,
    referenced,
    rule,
)
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


def _invoice_write(ctx: GenContext, body: Record, record: Record, resolve: Resolver) -> None:
    customer = body.get("customer")
    if isinstance(customer, dict) and "id" in customer:
        record["customerId"] = customer["id"]
    elif "customerId" in body:
        record["customerId"] = body["customerId"]
    if "customer" in body or "customerId" in body:
        referenced(resolve, "customers", record["customerId"], what="customer")
    if "invoiceLineItems" in body:
        items = body["invoiceLineItems"]
        if not isinstance(items, list) or not items:
            raise SimError("BDC_1129", "invoiceLineItems must be a non-empty list")
        total = sum(
            float(i.get("quantity", 1)) * float(i.get("price", 0)) for i in items if isinstance(i, dict)
        )
        record["totalAmount"] = record["dueAmount"] = round(total, 2)


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
    filters=common_filters(
        rule("name", "str", frozenset({"eq", "sw"})),
        rule("accountType", "str", SET),
        rule("invoiceCurrency", "str", SET),
        rule("email", "str", EQ_NE),
    ),
    sorts=common_sorts(("name", "str"), ("email", "str")),
    required=("name", "email"),
    event="customer",
)

INVOICES = FamilySpec(
    path="invoices",
    prefix="00e",
    generate=_invoice,
    filters=common_filters(
        party_rule("customerId"),
        rule("invoiceNumber", "str", frozenset({"eq", "in", "sw"})),
        rule("dueDate", "date", RANGE),
        rule("invoiceDate", "date", RANGE),
        rule("status", "str", SET),
        rule("payToChartOfAccountId", "str", frozenset({"eq", "ne", "in"})),
    ),
    sorts=common_sorts(
        ("invoiceNumber", "str"), ("invoiceDate", "date"), ("dueDate", "date"), ("totalAmount", "num")
    ),
    required=("invoiceDate", "dueDate", "invoiceLineItems", "customer"),
    writable=frozenset({"customer", "customerId", "processingOptions"}),
    on_write=_invoice_write,
    replaceable=True,
    event="invoice",
)

RECEIVABLE_PAYMENTS = FamilySpec(
    path="receivable-payments",
    prefix="0rp",
    generate=_receivable_payment,
    filters=dict([rule("id", "str", SET), party_rule("customerId"), *TIME_RANGE]),
    sorts=common_sorts(("amount", "num"), ("paymentDate", "date")),
    creatable=False,
    archivable=False,
)

CREDIT_MEMOS = credit_family("credit-memos", "ccr", generate=_credit_memo, party="customerId")

RECURRING_INVOICES = recurring_family(
    "recurring-invoices", "rit", generate=_recurring_invoice, party="customerId"
)
