"""Money movement besides creating payments: recorded AP and AR payments, bank account
verification, cancelling and voiding payments."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.families import CATALOG
from billbridge.simulator.families.ap import payment_status
from billbridge.simulator.families.ar import invoice_status
from billbridge.simulator.families.base import Record
from billbridge.simulator.families.checks import bill_date, money, one_of, require
from billbridge.simulator.families.funding import payment_action
from billbridge.simulator.gateway import Call, Handler, json_response, read_json
from billbridge.simulator.store import FamilyStore

PAYMENT_TYPES = ("CASH", "CHECK", "CREDIT_CARD", "ACH", "PAYPAL", "OTHER")
# verifybankaccount: the sandbox accepts 0.50; three wrong amounts and the account is unusable.
SANDBOX_DEPOSIT = 0.50
VERIFY_ATTEMPTS = 3


def _store(call: Call, family: str) -> FamilyStore:
    return call.state.data.family(call.org, CATALOG[family])


def _applications(body: Record, field: str, key: str) -> list[tuple[str, float]]:
    items = body.get(field)
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise SimError("BDC_1108", f"Missing required field: {field}")
    pairs = []
    for item in items:
        require(item, (key, "amount"))
        pairs.append((str(item[key]), money(item["amount"], f"{field}.amount", positive=True)))
    if len({target for target, _ in pairs}) != len(pairs):
        raise SimError("BDC_1129", f"{field} names the same {key} twice")
    return pairs


def _owned(store: FamilyStore, record_id: str, party: str, owner: str, *, due: str, wanted: float) -> Record:
    record = store.records.get(record_id)
    if record is None:
        raise SimError("BDC_1129", f"Invalid {store.spec.path[:-1]} id: {record_id}")
    if record.get(party) != owner:
        raise SimError("BDC_1129", f"{record_id} does not belong to {owner}")
    if record.get("archived"):
        raise SimError("BDC_1129", f"{record_id} is archived")
    if wanted > record.get(due, 0):
        raise SimError("BDC_1129", f"amount {wanted} is more than the {due} of {record_id}")
    return record


async def record_bill_payment(call: Call) -> Response:
    """``POST /v3/bills/record-payment`` (docs/record-ap-payments): a payment made outside BILL,
    applied to bills of one vendor; each bill's ``dueAmount`` drops and its ``paymentStatus``
    becomes PARTIALLY_PAID or PAID. Answers the recorded payment (its shape is guessed)."""
    body = await read_json(call.request)
    require(body, ("vendorId", "processDate"))
    process_date = bill_date(body["processDate"], "processDate")
    vendor = _store(call, "vendors").records.get(str(body["vendorId"]))
    if vendor is None:
        raise SimError("BDC_1129", f"Invalid vendor id: {body['vendorId']}")
    bills = _store(call, "bills")
    applied = _applications(body, "payments", "billId")
    targets = [
        _owned(bills, bill_id, "vendorId", vendor["id"], due="dueAmount", wanted=amount)
        for bill_id, amount in applied
    ]
    now = call.state.timestamp()
    for bill, (_, amount) in zip(targets, applied, strict=True):
        due = round(bill["dueAmount"] - amount, 2)
        bills.force(
            bill["id"], {"dueAmount": due, "paymentStatus": payment_status(bill["amount"], due)}, now=now
        )
    payment = {
        "vendorId": vendor["id"],
        "vendorName": vendor["name"],
        "amount": round(sum(amount for _, amount in applied), 2),
        "processDate": process_date,
        "onlinePayment": False,
        "status": "PAID",
        "singleStatus": "PAID",
        "billPayments": [{"billId": bill_id, "amount": amount} for bill_id, amount in applied],
    }
    if "toPrintCheck" in body:
        payment["toPrintCheck"] = bool(body["toPrintCheck"])
    return json_response(_store(call, "payments").insert(payment, now=now))


async def record_invoice_payment(call: Call) -> Response:
    """``POST /v3/invoices/record-payment`` (docs/recording-an-ar-payment): a payment received
    outside BILL, applied to invoices of one customer (each ``dueAmount`` drops, ``status`` becomes
    PARTIAL_PAYMENT or PAID_IN_FULL); what is not applied stays unapplied. Answers the received
    payment as ``GET /v3/receivable-payments/{id}`` lists it."""
    body = await read_json(call.request)
    require(body, ("customerId", "paymentDate", "paymentType", "amount"))
    paid = money(body["amount"], "amount", positive=True)
    customer = _store(call, "customers").records.get(str(body["customerId"]))
    if customer is None:
        raise SimError("BDC_1129", f"Invalid customer id: {body['customerId']}")
    invoices = _store(call, "invoices")
    applied = _applications(body, "invoices", "id") if body.get("invoices") else []
    if sum(amount for _, amount in applied) > paid:
        raise SimError("BDC_1129", "The invoices' amounts add up to more than the payment amount")
    targets = [
        _owned(invoices, invoice_id, "customerId", customer["id"], due="dueAmount", wanted=amount)
        for invoice_id, amount in applied
    ]
    now = call.state.timestamp()
    for invoice, (_, amount) in zip(targets, applied, strict=True):
        due = round(invoice["dueAmount"] - amount, 2)
        changes = {"dueAmount": due, "status": invoice_status(invoice["totalAmount"], due)}
        invoices.force(invoice["id"], changes, now=now)
    received: dict[str, Any] = {
        "customerId": customer["id"],
        "paymentDate": bill_date(body["paymentDate"], "paymentDate"),
        "paymentType": one_of(body["paymentType"], PAYMENT_TYPES, "paymentType"),
        "amount": paid,
        "status": "PAID",
        "invoices": [{"id": invoice_id, "amount": amount} for invoice_id, amount in applied],
    }
    return json_response(_store(call, "receivable-payments").insert(received, now=now))


async def verify_bank(call: Call, bank_id: str) -> Response:
    """``POST /v3/funding-accounts/banks/{id}/verify``: ``depositAmount`` 0.01 to 0.99; the
    sandbox verifies with 0.50 (status VERIFIED); after three wrong amounts the account cannot
    be verified any more."""
    banks = _store(call, "funding-accounts/banks")
    bank = banks.get(bank_id)
    body = await read_json(call.request)
    require(body, ("depositAmount",))
    amount = money(body["depositAmount"], "depositAmount")
    if not 0.01 <= amount <= 0.99:
        raise SimError("BDC_1129", "depositAmount must be between 0.01 and 0.99")
    if bank.get("status") == "VERIFIED":
        return json_response(bank)
    failures = banks.extras.setdefault("verify-failures", {})
    if failures.get(bank_id, 0) >= VERIFY_ATTEMPTS:
        raise SimError("BDC_1129", "This bank account failed verification three times; add another one")
    if amount != SANDBOX_DEPOSIT:
        failures[bank_id] = failures.get(bank_id, 0) + 1
        raise SimError("BDC_1129", "depositAmount does not match the test deposit")
    return json_response(banks.force(bank_id, {"status": "VERIFIED"}, now=call.state.timestamp()))


async def payment_change(call: Call, payment_id: str, action: str) -> Response:
    """``POST /v3/payments/{id}/cancel|void`` with ``singleStatus`` CANCELED or VOIDED."""
    payments = _store(call, "payments")
    changes = payment_action(action, payments.get(payment_id))
    if not changes:
        return json_response(payments.get(payment_id))
    return json_response(payments.force(payment_id, changes, now=call.state.timestamp()))


def resolve(family: str, rest: list[str]) -> Handler | None:
    """The POST handler of a money movement below ``/v3/{family}``, or None."""
    if rest == ["record-payment"] and family == "bills":
        return record_bill_payment
    if rest == ["record-payment"] and family == "invoices":
        return record_invoice_payment
    if len(rest) == 2 and family == "funding-accounts/banks" and rest[1] == "verify":
        return lambda call: verify_bank(call, rest[0])
    if len(rest) == 2 and family == "payments" and rest[1] in ("cancel", "void"):
        return lambda call: payment_change(call, rest[0], rest[1])
    return None
