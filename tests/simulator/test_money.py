"""Money movement: recorded AP/AR payments and their effect on what is due, bank account
verification with the sandbox deposit amount, payment singleStatus through cancel and void."""

from __future__ import annotations

from typing import Any

import pytest

from billbridge.simulator import SimConfig

from .support import Demo, error_code


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=40, seed=7, organizations=1)


async def unpaid(demo: Demo, family: str, status: str) -> dict[str, Any]:
    field = "paymentStatus" if family == "bills" else "status"
    found: list[dict[str, Any]] = (
        await demo.get(f"/{family}", max=100, filters=f"{field}:eq:{status},archived:eq:false")
    ).json()["results"]
    return found[0]


async def test_record_bill_payment_partly_then_fully(demo: Demo) -> None:
    bill = await unpaid(demo, "bills", "UNPAID")
    half = round(bill["dueAmount"] / 2, 2)
    body = {"vendorId": bill["vendorId"], "processDate": "2025-07-01",
            "payments": [{"billId": bill["id"], "amount": half}]}  # fmt: skip
    payment = (await demo.post("/bills/record-payment", body)).json()
    assert payment["id"].startswith("stp")
    assert (payment["amount"], payment["onlinePayment"]) == (half, False)
    after = (await demo.get(f"/bills/{bill['id']}")).json()
    assert (after["dueAmount"], after["paymentStatus"]) == (
        round(bill["dueAmount"] - half, 2),
        "PARTIALLY_PAID",
    )
    rest = {**body, "payments": [{"billId": bill["id"], "amount": after["dueAmount"]}]}
    assert (await demo.post("/bills/record-payment", rest)).status_code == 200
    paid = (await demo.get(f"/bills/{bill['id']}")).json()
    assert (paid["dueAmount"], paid["paymentStatus"]) == (0, "PAID")
    too_much = await demo.post(
        "/bills/record-payment", {**body, "payments": [{"billId": bill["id"], "amount": 1}]}
    )
    assert error_code(too_much) == "BDC_1129"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"vendorId": None}, "BDC_1108"),
        ({"processDate": "01/07/2025"}, "BDC_1129"),
        ({"payments": []}, "BDC_1108"),
        ({"vendorId": "00902NOSUCHVENDORabcd"}, "BDC_1129"),
    ],
)
async def test_record_bill_payment_refusals(demo: Demo, change: dict[str, Any], code: str) -> None:
    bill = await unpaid(demo, "bills", "UNPAID")
    body = {"vendorId": bill["vendorId"], "processDate": "2025-07-01",
            "payments": [{"billId": bill["id"], "amount": 1}]}  # fmt: skip
    response = await demo.post("/bills/record-payment", {**body, **change})
    assert (response.status_code, error_code(response)) == (400, code)
    assert (await demo.get(f"/bills/{bill['id']}")).json() == bill  # nothing applied


async def test_record_invoice_payment(demo: Demo) -> None:
    invoice = await unpaid(demo, "invoices", "OPEN")
    before = (await demo.get("/receivable-payments", max=100)).json()["results"]
    body = {"customerId": invoice["customerId"], "paymentDate": "2025-07-02", "paymentType": "CHECK",
            "amount": invoice["dueAmount"] + 5, "invoices": [{"id": invoice["id"], "amount": 1}]}  # fmt: skip
    received = (await demo.post("/invoices/record-payment", body)).json()
    assert received["id"].startswith("0rp")
    listed = (await demo.get("/receivable-payments", max=100)).json()["results"]
    assert len(listed) == len(before) + 1
    after = (await demo.get(f"/invoices/{invoice['id']}")).json()
    assert (after["dueAmount"], after["status"]) == (round(invoice["dueAmount"] - 1, 2), "PARTIAL_PAYMENT")
    whole = {
        **body,
        "amount": after["dueAmount"],
        "invoices": [{"id": invoice["id"], "amount": after["dueAmount"]}],
    }
    await demo.post("/invoices/record-payment", whole)
    assert (await demo.get(f"/invoices/{invoice['id']}")).json()["status"] == "PAID_IN_FULL"
    wrong_type = await demo.post("/invoices/record-payment", {**body, "paymentType": "BARTER"})
    assert error_code(wrong_type) == "BDC_1129"
    more_than_paid = await demo.post("/invoices/record-payment", {**body, "amount": 0.5})
    assert error_code(more_than_paid) == "BDC_1129"


async def trusted(demo: Demo) -> None:
    challenge = (await demo.post("/mfa/challenge", {"useBackup": False})).json()["challengeId"]
    code = (await demo.http.get("/_sim/mfa/codes")).json()["codes"][-1]["code"]
    await demo.post("/mfa/challenge/validate", {"challengeId": challenge, "token": code})


async def new_bank(demo: Demo) -> dict[str, Any]:
    await trusted(demo)
    body = {"nameOnAccount": "Ops", "routingNumber": "026009593", "accountNumber": "123456789"}
    bank: dict[str, Any] = (await demo.post("/funding-accounts/banks", body)).json()
    return bank


async def test_verify_with_the_sandbox_deposit(demo: Demo) -> None:
    bank = await new_bank(demo)
    path = f"/funding-accounts/banks/{bank['id']}/verify"
    assert error_code(await demo.post(path, {})) == "BDC_1108"
    assert error_code(await demo.post(path, {"depositAmount": 1.5})) == "BDC_1129"
    verified = (await demo.post(path, {"depositAmount": 0.5})).json()
    assert verified["status"] == "VERIFIED"
    assert (await demo.post(path, {"depositAmount": 0.5})).json() == verified


async def test_three_wrong_deposits_lock_verification(demo: Demo) -> None:
    bank = await new_bank(demo)
    path = f"/funding-accounts/banks/{bank['id']}/verify"
    for _ in range(3):
        assert error_code(await demo.post(path, {"depositAmount": 0.42})) == "BDC_1129"
    locked = await demo.post(path, {"depositAmount": 0.5})
    assert error_code(locked) == "BDC_1129"
    assert (await demo.get(f"/funding-accounts/banks/{bank['id']}")).json()["status"] == "PENDING"


async def test_payment_single_status_through_its_life(demo: Demo) -> None:
    await trusted(demo)
    bill = await unpaid(demo, "bills", "UNPAID")
    bank = (await demo.get("/funding-accounts/banks", max=1)).json()["results"][0]
    body = {"billId": bill["id"], "amount": 1, "processDate": "2025-07-01",
            "fundingAccount": {"type": "BANK_ACCOUNT", "id": bank["id"]}}  # fmt: skip
    payment = (await demo.post("/payments", body)).json()
    assert (payment["status"], payment["singleStatus"]) == ("SCHEDULED", "SCHEDULED")
    assert (await demo.get(f"/bills/{bill['id']}")).json()["paymentStatus"] == "SCHEDULED"
    cancelled = (await demo.post(f"/payments/{payment['id']}/cancel")).json()
    assert cancelled["singleStatus"] == "CANCELED"
    paid = (await demo.get("/payments", filters="status:eq:PAID")).json()["results"][0]
    voided = (await demo.post(f"/payments/{paid['id']}/void")).json()
    assert (voided["status"], voided["singleStatus"]) == ("VOIDED", "VOIDED")
    over = await demo.post("/payments", {**body, "amount": bill["dueAmount"] + 1})
    assert error_code(over) == "BDC_1129"


async def test_only_a_verified_bank_account_is_archived_and_never_restored(demo: Demo) -> None:
    bank = await new_bank(demo)
    pending = await demo.post(f"/funding-accounts/banks/{bank['id']}/archive")
    assert (pending.status_code, error_code(pending)) == (400, "BDC_1129")
    await demo.post(f"/funding-accounts/banks/{bank['id']}/verify", {"depositAmount": 0.5})
    archived = (await demo.post(f"/funding-accounts/banks/{bank['id']}/archive")).json()
    assert archived["archived"] is True
    restore = await demo.post(f"/funding-accounts/banks/{bank['id']}/restore")
    assert (restore.status_code, error_code(restore)) == (404, "BDC_1121")
