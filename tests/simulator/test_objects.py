"""Every family: list, get, create, update, replace, archive, restore; references and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from billbridge.simulator import SimConfig
from billbridge.simulator.families import CATALOG

from .support import Demo, error_code

PREFIXES = {
    "users": "006", "roles": "0po", "vendors": "009", "bills": "00n", "payments": "stp",
    "vendor-credits": "vcr", "recurringbills": "btp", "customers": "0cu", "invoices": "00e",
    "receivable-payments": "0rp", "credit-memos": "ccr", "recurring-invoices": "rit",
    "funding-accounts/banks": "bac", "classifications/chart-of-accounts": "0ca",
    "classifications/accounting-classes": "cls", "classifications/departments": "0de",
    "classifications/employees": "emp", "classifications/items": "0ii", "classifications/jobs": "job",
    "classifications/locations": "loc",
}  # fmt: skip
SCHEDULE = {"period": "MONTHLY", "frequency": 1, "nextDueDate": "2025-08-01", "daysInAdvance": 5}


def vendor_body(name: str) -> dict[str, Any]:
    """A vendor create body with the fields docs/creating-a-us-vendor requires."""
    return {"name": name, "accountType": "BUSINESS", "email": "ap@created.example", "phone": "5550100"}


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=12, seed=9, organizations=2)


async def first_id(demo: Demo, family: str) -> str:
    answer = (await demo.get(f"/{family}", max=1)).json()
    record_id: str = answer["results"][0]["id"]
    return record_id


async def create_body(demo: Demo, family: str) -> dict[str, Any]:
    """A valid create body for ``family`` (references point at existing objects)."""
    if family == "users":
        role = await first_id(demo, "roles")
        return {"firstName": "Ada", "lastName": "Byron", "email": "ada@example.com", "roleId": role,
                "acceptTermsOfService": True}  # fmt: skip
    if family == "vendors":
        return vendor_body("Created One")
    if family == "customers" or family.startswith("classifications/"):
        return {"name": "Created One", "email": "created@example.com"}
    if family == "bills":
        vendor = await first_id(demo, "vendors")
        return {"vendorId": vendor, "dueDate": "2025-07-01",
                "invoice": {"invoiceNumber": "X-1", "invoiceDate": "2025-06-01"},
                "billLineItems": [{"amount": 10.5, "description": "a"}, {"amount": 2}]}  # fmt: skip
    if family == "vendor-credits":
        return {"vendorId": await first_id(demo, "vendors"), "amount": 5.0, "description": "x"}
    if family == "recurringbills":
        return {"vendorId": await first_id(demo, "vendors"), "schedule": SCHEDULE, "description": "x"}
    if family == "invoices":
        customer = await first_id(demo, "customers")
        return {"customer": {"id": customer}, "invoiceDate": "2025-06-01", "dueDate": "2025-07-01",
                "invoiceLineItems": [{"quantity": 2, "price": 12.5, "description": "x"}]}  # fmt: skip
    if family in ("credit-memos", "recurring-invoices"):
        return {"customerId": await first_id(demo, "customers"), "amount": 3.0, "schedule": SCHEDULE,
                "description": "x"}  # fmt: skip
    raise AssertionError(family)


def test_catalog_prefixes() -> None:
    assert {path: spec.prefix for path, spec in CATALOG.items()} == PREFIXES


@pytest.mark.parametrize("family", sorted(CATALOG))
async def test_list_and_get(demo: Demo, family: str) -> None:
    page = (await demo.get(f"/{family}", max=100)).json()
    expected = 6 if family == "roles" else 3 if family == "funding-accounts/banks" else 12
    assert len(page["results"]) == expected
    for record in page["results"]:
        assert len(record["id"]) == 20
        assert record["id"].startswith(PREFIXES[family])
    one = page["results"][-1]
    assert (await demo.get(f"/{family}/{one['id']}")).json() == one
    missing = await demo.get(f"/{family}/{PREFIXES[family]}02NOSUCHOBJECTabcd")
    assert (missing.status_code, error_code(missing)) == (404, "BDC_1120")


WRITABLE = sorted(
    path
    for path, spec in CATALOG.items()
    if spec.creatable and path not in ("payments", "funding-accounts/banks")
)


@pytest.mark.parametrize("family", WRITABLE)
async def test_create_update_archive_restore(demo: Demo, family: str) -> None:
    spec = CATALOG[family]
    body = await create_body(demo, family)
    created = await demo.post(f"/{family}", body)
    assert created.status_code == 200, created.text
    record = created.json()
    assert record["id"].startswith(spec.prefix)
    assert len(record["id"]) == 20
    assert record["createdTime"] == record["updatedTime"]
    assert record["archived"] is False
    assert (await demo.get(f"/{family}/{record['id']}")).json() == record
    listed, _ = await list_all(demo, family)
    assert listed[-1]["id"] == record["id"]  # natural order is creation order

    patch_field = next(f for f in ("name", "description", "lastName", "dueDate") if f in record)
    value = "2025-09-09" if patch_field == "dueDate" else "Changed"
    updated = (await demo.patch(f"/{family}/{record['id']}", {patch_field: value})).json()
    assert updated[patch_field] == value
    assert updated["createdTime"] == record["createdTime"]
    assert updated["updatedTime"] >= record["updatedTime"]

    archived = (await demo.post(f"/{family}/{record['id']}/archive")).json()
    assert archived["archived"] is True
    again = (await demo.post(f"/{family}/{record['id']}/archive")).json()
    assert again == archived  # archiving twice changes nothing
    restored = await demo.post(f"/{family}/{record['id']}/restore")
    if spec.restorable:
        assert restored.json()["archived"] is False
    else:  # archivevendorcredit: an archived vendor credit cannot be restored
        assert (restored.status_code, error_code(restored)) == (404, "BDC_1121")

    if spec.replaceable:
        replaced = await demo.put(f"/{family}/{record['id']}", body)
        assert replaced.status_code == 200
        assert (await demo.put(f"/{family}/{record['id']}", {"description": "x"})).status_code == 400


async def list_all(demo: Demo, family: str) -> tuple[list[dict[str, Any]], int]:
    body = (await demo.get(f"/{family}", max=100)).json()
    return body["results"], len(body["results"])


@pytest.mark.parametrize("family", WRITABLE)
async def test_create_needs_required_fields(demo: Demo, family: str) -> None:
    response = await demo.post(f"/{family}", {"description": "incomplete"})
    assert (response.status_code, error_code(response)) == (400, "BDC_1108")


async def test_read_only_families(demo: Demo) -> None:
    for family in ("roles", "receivable-payments"):
        response = await demo.post(f"/{family}", {"name": "x"})
        assert (response.status_code, error_code(response)) == (404, "BDC_1121")
    role = await first_id(demo, "roles")
    assert error_code(await demo.post(f"/roles/{role}/archive")) == "BDC_1121"


@pytest.mark.parametrize("path", ["/Vendors", "/vendors/x/y/z", "/nothing", "/vendors//archive"])
async def test_unknown_paths_are_bdc_1121(demo: Demo, path: str) -> None:
    response = await demo.get(path)
    assert (response.status_code, error_code(response)) == (404, "BDC_1121")


async def test_unknown_gateway_path(demo: Demo) -> None:
    response = await demo.http.get("/connect/v2/whatever")
    assert (response.status_code, error_code(response)) == (404, "BDC_1121")


async def test_user_create_matches_recorded_shape(demo: Demo) -> None:
    body = await create_body(demo, "users")
    record = (await demo.post("/users", body)).json()
    assert list(record) == [
        "id",
        "archived",
        "firstName",
        "lastName",
        "email",
        "role",
        "createdTime",
        "updatedTime",
    ]
    assert record["role"]["id"] == body["roleId"]
    assert record["role"]["type"] == "ACCOUNTANT"
    bad = await demo.post("/users", {**body, "roleId": "0po02NOSUCHROLEEEabcd"})
    assert error_code(bad) == "BDC_1129"


async def test_bill_create_uses_references(demo: Demo) -> None:
    body = await create_body(demo, "bills")
    bill = (await demo.post("/bills", body)).json()
    vendor = (await demo.get(f"/vendors/{body['vendorId']}")).json()
    assert bill["vendorName"] == vendor["name"]
    assert bill["amount"] == 12.5
    assert bill["paymentStatus"] == "UNPAID"
    assert all(item["id"].startswith("bli") for item in bill["billLineItems"])
    unknown = await demo.post("/bills", {**body, "vendorId": "00902NOSUCHVENDORRabcd"})
    assert error_code(unknown) == "BDC_1129"
    wrong_type = await demo.post("/bills", {**body, "dueDate": 20250701})
    assert error_code(wrong_type) == "BDC_1129"


async def test_invoice_total_and_customer(demo: Demo) -> None:
    body = await create_body(demo, "invoices")
    invoice = (await demo.post("/invoices", body)).json()
    assert invoice["customerId"] == body["customer"]["id"]
    assert invoice["totalAmount"] == 25.0
    assert "customer" not in invoice


async def test_bulk_create_is_all_or_nothing(demo: Demo) -> None:
    before, count = await list_all(demo, "vendors")
    refused = await demo.post("/vendors/bulk", [vendor_body("A"), {**vendor_body("B"), "name": ""}])
    assert error_code(refused) == "BDC_1108"
    assert (await list_all(demo, "vendors"))[1] == count
    created = (await demo.post("/vendors/bulk", [vendor_body("A"), vendor_body("B")])).json()
    assert [v["name"] for v in created] == ["A", "B"]
    assert (await list_all(demo, "vendors"))[1] == count + 2
    assert before


async def test_payment_actions(demo: Demo) -> None:
    scheduled = (await demo.get("/payments", filters="status:eq:SCHEDULED")).json()["results"]
    payment = scheduled[0]["id"]
    cancelled = (await demo.post(f"/payments/{payment}/cancel")).json()
    assert (cancelled["status"], cancelled["singleStatus"]) == ("CANCELLED", "CANCELED")
    assert error_code(await demo.post(f"/payments/{payment}/void")) == "BDC_1129"
    assert error_code(await demo.post(f"/payments/{payment}/archive")) == "BDC_1121"


async def test_objects_are_per_organization(demo: Demo) -> None:
    vendor = await first_id(demo, "vendors")
    other = demo.world["organizations"][1]["id"]
    theirs = await demo.http.get("/_sim/objects", params={"family": "vendors", "organization_id": other})
    assert vendor not in {r["id"] for r in theirs.json()["results"]}


async def test_generated_data_is_deterministic(demo: Demo) -> None:
    from .support import client_for

    async with client_for(SimConfig(records=12, seed=9, organizations=2)) as twin:
        same = await twin.get("/_sim/objects", params={"family": "bills", "organization_id": demo.org_id})
        mine = await demo.http.get(
            "/_sim/objects", params={"family": "bills", "organization_id": demo.org_id}
        )
        assert same.json() == mine.json()
