"""Money movement, which BILL protects with MFA: payments and the organization's bank accounts."""

from __future__ import annotations

from typing import Any

from billbridge.simulator.errors import SimError
from billbridge.simulator.families.ap import vendor_ref
from billbridge.simulator.families.base import FamilySpec, GenContext, Record, Write, referenced
from billbridge.simulator.families.checks import dates, enums, money, one_of, require
from billbridge.simulator.families.lists import LISTS
from billbridge.simulator.families.values import amount

FUNDING_TYPES = ("BANK_ACCOUNT", "CARD_ACCOUNT", "WALLET", "AP_CARD")
BANK_TYPES = ("CHECKING", "SAVINGS")
OWNER_TYPES = ("BUSINESS", "PERSONAL")


def single_status(status: str, disbursement: str | None) -> str:
    """``singleStatus`` (docs/single-status-payment-values) from ``status`` and
    ``disbursementStatus``; CANCELED, VOIDED and CLEARED are documented, the rest is guessed."""
    if status == "CANCELLED":
        return "CANCELED"
    if status == "VOIDED":
        return "VOIDED"
    if disbursement == "CLEARED":
        return "CLEARED"
    return "SCHEDULED" if status == "SCHEDULED" else "IN_PROCESS"


def _payment(ctx: GenContext, serial: int) -> Record:
    rng = ctx.rng("payments", serial)
    created, updated = ctx.stamps(rng, serial)
    vendor_id, vendor_name = vendor_ref(ctx, "payments", serial)
    status = rng.choice(("SCHEDULED", "PAID", "CANCELLED"))
    disbursement = rng.choice(("SCHEDULED", "DISBURSED", "CLEARED"))
    return {
        "id": ctx.id("stp", serial),
        "vendorId": vendor_id,
        "vendorName": vendor_name,
        "billId": ctx.id("00n", ctx.pick("payment-bills", serial, ctx.records)),
        "amount": amount(rng, 20, 25_000),
        "processDate": ctx.date_near(rng, serial, days=10),
        "fundingAccount": {"type": "BANK_ACCOUNT", "id": ctx.id("bac", 0)},
        "status": status,
        "disbursementStatus": disbursement,
        "singleStatus": single_status(status, disbursement),
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
        "payables": True,
        "receivables": True,
        "default": serial == 0,
        "accessToAdmins": True,
        "createdTime": created,
        "updatedTime": updated,
    }


def _payment_write(write: Write) -> None:
    record, body = write.record, write.body
    if not write.creating:
        raise SimError("BDC_1121", "A payment cannot be changed; cancel or void it.")
    require(body, ("fundingAccount.type", "fundingAccount.id"))
    funding = body["fundingAccount"]
    one_of(funding["type"], FUNDING_TYPES, "fundingAccount.type")
    if funding["type"] == "BANK_ACCOUNT":
        referenced(write.refs, "funding-accounts/banks", funding["id"], what="fundingAccount")
    dates(record, "processDate")
    record["amount"] = money(body["amount"], "amount", positive=True)
    if "billId" in body:
        bill = referenced(write.refs, "bills", body["billId"], what="bill")
        if record["amount"] > bill.get("dueAmount", 0):
            raise SimError("BDC_1129", f"amount {record['amount']} is more than the bill's dueAmount")
        record["vendorId"], record["vendorName"] = bill["vendorId"], bill["vendorName"]
        write.refs.change("bills", bill["id"], {"paymentStatus": "SCHEDULED"}, now=write.now)
    elif "vendorId" in body:
        record["vendorName"] = referenced(write.refs, "vendors", body["vendorId"], what="vendor")["name"]
    else:
        raise SimError("BDC_1108", "Missing required field: billId or vendorId")
    record["onlinePayment"] = True
    record["status"] = record["disbursementStatus"] = "SCHEDULED"
    record["singleStatus"] = single_status("SCHEDULED", "SCHEDULED")


def payment_action(action: str, payment: Record) -> dict[str, Any]:
    """The changes of ``POST /payments/{id}/cancel|void``: a scheduled payment can be cancelled,
    a paid one voided (guessed from the payment pages' wording)."""
    status = payment.get("status")
    if action == "cancel":
        if status == "CANCELLED":
            return {}
        if status != "SCHEDULED":
            raise SimError("BDC_1129", f"Only a scheduled payment can be cancelled; this one is {status}")
        return {"status": "CANCELLED", "singleStatus": "CANCELED"}
    if status == "VOIDED":
        return {}
    if status != "PAID":
        raise SimError("BDC_1129", f"Only a paid payment can be voided; this one is {status}")
    return {"status": "VOIDED", "singleStatus": "VOIDED"}


def _bank_write(write: Write) -> None:
    record, body = write.record, write.body
    enums(record, {"type": BANK_TYPES, "ownerType": OWNER_TYPES})
    if "accountNumber" in body:
        number = str(body["accountNumber"])
        if not number.isdigit():
            raise SimError("BDC_1129", "accountNumber must be digits")
        # BILL answers with the account number masked but its last four digits.
        record["accountNumber"] = "X" * max(len(number) - 4, 0) + number[-4:]
    if write.creating:
        # A new bank account waits for verification and is used for nothing yet (docs/bank
        # account setup; verifybankaccount).
        record["status"] = "PENDING"
        record["payables"] = record["receivables"] = False


def _bank_archive_refusal(bank: Record) -> str | None:
    # archivebankaccount: only a VERIFIED bank account can be archived; no page restores one.
    if bank.get("status") != "VERIFIED":
        return "Only a VERIFIED bank account can be archived; verify it first"
    return None


def _always(action: str, body: Record) -> bool:
    return True


PAYMENTS = FamilySpec(
    path="payments",
    prefix="stp",
    generate=_payment,
    filters=LISTS["payments"].filters,
    sorts=LISTS["payments"].sorts,
    required=("amount", "processDate", "fundingAccount"),
    on_write=_payment_write,
    archivable=False,
    protected=_always,
    event="payment",
)

BANK_ACCOUNTS = FamilySpec(
    path="funding-accounts/banks",
    prefix="bac",
    generate=_bank,
    filters=LISTS["funding-accounts/banks"].filters,
    sorts=LISTS["funding-accounts/banks"].sorts,
    required=("nameOnAccount", "routingNumber", "accountNumber"),
    on_write=_bank_write,
    restorable=False,
    archive_refusal=_bank_archive_refusal,
    protected=_always,
    fixed_count=3,
    event="bank-account",
)
