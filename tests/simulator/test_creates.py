"""Creates as BILL's guides state them: required fields (each one missing is BDC_1108), nothing
invented beyond what was sent, what BILL computes and what it documents as a new record's state."""

from __future__ import annotations

from typing import Any

import pytest

from billbridge.simulator import SimConfig
from billbridge.simulator.families import CATALOG

from .support import Demo, error_code

SCHEDULE = {"period": "MONTHLY", "frequency": 1, "nextDueDate": "2025-08-01", "daysInAdvance": 5}
SYSTEM = {"id", "archived", "createdTime", "updatedTime"}


async def first_id(demo: Demo, family: str) -> str:
    record_id: str = (await demo.get(f"/{family}", max=1)).json()["results"][0]["id"]
    return record_id


async def body_for(demo: Demo, family: str) -> dict[str, Any]:
    """A minimal valid create body."""
    if family == "users":
        return {"firstName": "Ada", "lastName": "Byron", "email": "ada@example.com",
                "roleId": await first_id(demo, "roles")}  # fmt: skip
    if family == "bills":
        return {"vendorId": await first_id(demo, "vendors"), "dueDate": "2025-07-01",
                "invoice": {"invoiceNumber": "X-1", "invoiceDate": "2025-06-01"},
                "billLineItems": [{"quantity": 2, "price": 79.99}, {"amount": 10}]}  # fmt: skip
    if family == "invoices":
        return {"customer": {"id": await first_id(demo, "customers")},
                "invoiceLineItems": [{"quantity": 2, "price": 12.5}]}  # fmt: skip
    if family == "vendor-credits":
        return {"vendorId": await first_id(demo, "vendors"), "amount": 5.0}
    if family == "credit-memos":
        return {"customerId": await first_id(demo, "customers"), "amount": 3.0}
    if family == "recurringbills":
        return {"vendorId": await first_id(demo, "vendors"), "schedule": SCHEDULE}
    if family == "recurring-invoices":
        return {"customerId": await first_id(demo, "customers"), "schedule": SCHEDULE}
    if family == "vendors":
        return {
            "name": "Created One",
            "accountType": "BUSINESS",
            "email": "ap@created.example",
            "phone": "5550100",
        }
    if family == "customers":
        return {"name": "Created One", "email": "created@example.com"}
    if family == "funding-accounts/banks":
        return {"nameOnAccount": "Ops", "routingNumber": "026009593", "accountNumber": "123456789"}
    if family == "payments":
        bills = (await demo.get("/bills", filters="paymentStatus:eq:UNPAID")).json()["results"]
        bank = await first_id(demo, "funding-accounts/banks")
        return {"billId": bills[0]["id"], "amount": 1, "processDate": "2025-07-01",
                "fundingAccount": {"type": "BANK_ACCOUNT", "id": bank}}  # fmt: skip
    return {"name": "Created One"}


#: Fields a create adds besides the caller's: what BILL computes or documents as the initial state.
ADDED = {
    "users": {"role"},
    "bills": {"vendorName", "amount", "dueAmount", "paymentStatus"},
    "invoices": {"customerId", "invoiceNumber", "invoiceDate", "totalAmount", "dueAmount", "status"},
    "vendor-credits": {"appliedAmount", "vendorCreditStatus"},
    "credit-memos": {"appliedAmount"},
    "funding-accounts/banks": {"status", "payables", "receivables"},
    "payments": {"vendorId", "vendorName", "onlinePayment", "status", "disbursementStatus", "singleStatus"},
}
#: Required fields beyond the family's top-level ones (nested, from the guides).
NESTED = {
    "bills": ["invoice.invoiceNumber", "invoice.invoiceDate"],
    "payments": ["fundingAccount.type", "fundingAccount.id"],
}
CREATABLE = sorted(path for path, spec in CATALOG.items() if spec.creatable)
REQUIRED = [
    (family, field) for family in CREATABLE for field in (*CATALOG[family].required, *NESTED.get(family, ()))
]


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=15, seed=4, organizations=1)


def without(body: dict[str, Any], path: str) -> dict[str, Any]:
    copy: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in body.items()}
    *parents, last = path.split(".")
    target = copy
    for step in parents:
        target = target[step]
    target.pop(last, None)
    return copy


async def trusted(demo: Demo) -> None:
    """Payments and bank accounts want an MFA-trusted session: pass a challenge."""
    challenge = (await demo.post("/mfa/challenge", {"useBackup": False})).json()["challengeId"]
    code = (await demo.http.get("/_sim/mfa/codes")).json()["codes"][-1]["code"]
    answer = await demo.post("/mfa/challenge/validate", {"challengeId": challenge, "token": code})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(("family", "field"), REQUIRED)
async def test_each_required_field(demo: Demo, family: str, field: str) -> None:
    await trusted(demo)
    response = await demo.post(f"/{family}", without(await body_for(demo, family), field))
    assert (response.status_code, error_code(response)) == (400, "BDC_1108"), response.text
    assert field in response.json()[0]["message"]


@pytest.mark.parametrize("family", CREATABLE)
async def test_creates_invent_nothing(demo: Demo, family: str) -> None:
    await trusted(demo)
    body = await body_for(demo, family)
    response = await demo.post(f"/{family}", body)
    assert response.status_code == 200, response.text
    record = response.json()
    inputs = CATALOG[family].inputs
    assert set(record) <= (set(body) - inputs) | SYSTEM | ADDED.get(family, set()), set(record) - set(body)
    assert record["createdTime"] == record["updatedTime"]


async def test_bill_computes_lines_and_starts_unpaid(demo: Demo) -> None:
    bill = (await demo.post("/bills", await body_for(demo, "bills"))).json()
    assert [line["amount"] for line in bill["billLineItems"]] == [159.98, 10]
    assert (bill["amount"], bill["dueAmount"], bill["paymentStatus"]) == (169.98, 169.98, "UNPAID")


async def test_invoice_defaults_and_new_customer(demo: Demo) -> None:
    body = await body_for(demo, "invoices")
    invoice = (await demo.post("/invoices", body)).json()
    assert (invoice["totalAmount"], invoice["dueAmount"], invoice["status"]) == (25.0, 25.0, "OPEN")
    assert invoice["invoiceDate"] == invoice["createdTime"][:10]  # changelog 2024-09-27
    assert invoice["invoiceNumber"]
    existing = (await demo.get(f"/customers/{body['customer']['id']}")).json()
    # A customer given by name and email is created, even when one of that name exists.
    named = {"name": existing["name"], "email": existing["email"]}
    fresh = (await demo.post("/invoices", {**body, "customer": named})).json()
    assert fresh["customerId"] != existing["id"]
    created = (await demo.get(f"/customers/{fresh['customerId']}")).json()
    assert (created["name"], created["email"]) == (existing["name"], existing["email"])
    no_quantity = await demo.post("/invoices", {**body, "invoiceLineItems": [{"price": 1}]})
    assert error_code(no_quantity) == "BDC_1108"


@pytest.mark.parametrize(
    ("family", "field", "value"),
    [
        ("bills", "dueDate", "07/01/2025"),
        ("bills", "dueDate", "2025-02-30"),
        ("invoices", "dueDate", "2025-7-1"),
        ("invoices", "invoiceDate", "tomorrow"),
        ("vendors", "accountType", "COMPANY"),
        ("customers", "accountType", "COMPANY"),
        ("funding-accounts/banks", "type", "BROKERAGE"),
        ("funding-accounts/banks", "ownerType", "TRUST"),
    ],
)
async def test_formats_and_enums(demo: Demo, family: str, field: str, value: str) -> None:
    await trusted(demo)
    body = {**await body_for(demo, family), field: value}
    response = await demo.post(f"/{family}", body)
    assert (response.status_code, error_code(response)) == (400, "BDC_1129"), response.text
    assert field in response.json()[0]["message"]


async def test_payment_funding_account_type_is_an_enum(demo: Demo) -> None:
    await trusted(demo)
    body = await body_for(demo, "payments")
    body["fundingAccount"] = {**body["fundingAccount"], "type": "CASH"}
    assert error_code(await demo.post("/payments", body)) == "BDC_1129"


async def test_new_bank_account_is_pending_and_masked(demo: Demo) -> None:
    await trusted(demo)
    bank = (await demo.post("/funding-accounts/banks", await body_for(demo, "funding-accounts/banks"))).json()
    assert (bank["status"], bank["payables"], bank["receivables"]) == ("PENDING", False, False)
    assert bank["accountNumber"] == "XXXXX6789"
