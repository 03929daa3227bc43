"""Money movement, which BILL protects with MFA: payments and the organization's bank accounts."""

from __future__ import annotations

from billbridge.simulator.errors import SimError
from billbridge.simulator.families.ap import vendor_ref
from billbridge.simulator.families.base import (
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
from billbridge.simulator.families.values import amount


def _payment(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("payments", serial)
    created, updated = ctx.stamps(rng, serial)
    vendor_id, vendor_name = vendor_ref(ctx, "payments", serial)
    return {
        "id": ctx.id("stp", serial),
        "vendorId": vendor_id,
        "vendorName": vendor_name,
        "billId": ctx.id("00n", ctx.pick("payment-bills", serial, ctx.records)),
        "amount": amount(rng, 20, 25_000),
        "processDate": ctx.date_near(rng, serial, days=10),
        "fundingAccount": {"type": "BANK_ACCOUNT", "id": ctx.id("bac", 0)},
        "status": rng.choice(("SCHEDULED", "PAID", "CANCELLED")),
        "disbursementStatus": rng.choice(("SCHEDULED", "DISBURSED", "CLEARED")),
        "confirmationNumber": f"P{rng.randrange(10**13, 10**14)}",
        "onlinePayment": True,
        "transactionNumber": None,
        "createdTime": created,
        "updatedTime": updated,
    }


def _bank(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("banks", serial)
    created, updated = ctx.stamps(rng, serial)
    return {
        "id": ctx.id("bac", serial),
        "archived": False,
        "nameOnAccount": "Operating account",
        "type": rng.choice(("CHECKING", "SAVINGS")),
        "ownerType": "BUSINESS",
        "bankName": rng.choice(("First Demo Bank", "Harbor Savings", "Sandbox Credit Union")),
        "routingNumber": "0260" + f"{rng.randrange(10**4, 10**5)}",
        "accountNumber": "XXXXXX" + f"{rng.randrange(1000, 9999)}",
        "status": "VERIFIED",
        "default": serial == 0,
        "accessToAdmins": True,
        "createdTime": created,
        "updatedTime": updated,
    }


def _payment_write(ctx: GenContext, body: Record, record: Record, resolve: Resolver) -> None:
    if "billId" in body:
        bill = referenced(resolve, "bills", body["billId"], what="bill")
        record["vendorId"], record["vendorName"] = bill["vendorId"], bill["vendorName"]
    elif "vendorId" in body:
        record["vendorName"] = referenced(resolve, "vendors", body["vendorId"], what="vendor")["name"]
        record["billId"] = None
    else:
        raise SimError("BDC_1108", "Missing required field: billId or vendorId")
    record["status"] = record["disbursementStatus"] = "SCHEDULED"


def _always(action: str, body: Record) -> bool:
    return True


PAYMENTS = FamilySpec(
    path="payments",
    prefix="stp",
    generate=_payment,
    filters=dict(
        [
            rule("id", "str", SET),
            rule("vendorId", "str", frozenset({"eq", "in"})),
            rule("billId", "str", frozenset({"eq", "in"})),
            rule("status", "str", SET),
            *TIME_RANGE,
            rule("processDate", "date", RANGE),
        ]
    ),
    sorts=common_sorts(("processDate", "date"), ("amount", "num")),
    required=("amount", "processDate"),
    on_write=_payment_write,
    archivable=False,
    protected=_always,
    event="payment",
    actions={"cancel": ("status", "CANCELLED"), "void": ("status", "VOIDED")},
)

BANK_ACCOUNTS = FamilySpec(
    path="funding-accounts/banks",
    prefix="bac",
    generate=_bank,
    filters=common_filters(rule("type", "str", SET)),
    sorts=common_sorts(("bankName", "str")),
    required=("nameOnAccount", "routingNumber", "accountNumber"),
    protected=_always,
    fixed_count=3,
    event="bank-account",
)
