"""The models parse BILL's recorded answers without losing or changing anything."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from billbridge.bill import Bill, BillObject, Customer, Invoice, Role, User, Vendor, model_for

RECORDED = Path(__file__).parent / "recorded"


def load(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("get-v3-users.json", User),
        ("get-v3-roles.json", Role),
    ],
)
def test_recorded_lists_round_trip(name: str, model: type[BillObject]) -> None:
    records = load(name)["results"]
    assert records
    for record in records:
        parsed = model.model_validate(record)
        assert parsed.to_bill() == record


@pytest.mark.parametrize("name", ["post-v3-users.json", "post-v3-users-archive.json"])
def test_recorded_user_answers_round_trip(name: str) -> None:
    record = load(name)
    user = User.model_validate(record)
    assert user.to_bill() == record
    assert user.archived is (name == "post-v3-users-archive.json")


def test_fields_are_typed() -> None:
    user = User.model_validate(load("get-v3-users.json")["results"][0])
    assert user.id == "00602AVVMSTLEDAVfxnl"
    assert user.first_name == "John"
    assert user.role is not None
    assert user.role.type == "ADMINISTRATOR"
    assert user.created_time == datetime(2024, 10, 16, 13, 36, 31, tzinfo=UTC)


def test_unknown_fields_are_kept() -> None:
    record = {
        "id": "009x",
        "name": "Acme",
        "brandNewField": {"nested": [1, 2]},
        "address": {"line1": "1 Main", "geo": "x"},
    }
    vendor = Vendor.model_validate(record)
    assert vendor.model_extra == {"brandNewField": {"nested": [1, 2]}}
    assert vendor.to_bill() == record


def test_documented_shapes_parse() -> None:
    bill = Bill.model_validate(
        {
            "id": "00n01ABCDEFGHIJKLMNO",
            "vendorId": "009x",
            "invoice": {"invoiceNumber": "A-1", "invoiceDate": "2025-01-31"},
            "dueDate": "2025-02-28",
            "amount": 125.5,
            "billLineItems": [{"amount": 125.5, "description": "x", "classifications": {}}],
            "paymentStatus": "UNPAID",
            "createdTime": "2025-12-15T22:53:15.127+00:00",
        }
    )
    assert bill.due_date == date(2025, 2, 28)
    assert bill.invoice is not None
    assert bill.invoice.invoice_date == date(2025, 1, 31)
    assert bill.to_bill()["createdTime"] == "2025-12-15T22:53:15.127+00:00"
    invoice = Invoice.model_validate(
        {"invoiceNumber": "7", "invoiceLineItems": [{"quantity": 2, "price": 3}]}
    )
    assert invoice.invoice_line_items is not None
    assert invoice.invoice_line_items[0].price == 3
    customer = Customer.model_validate({"name": "C", "billingAddress": {"zipOrPostalCode": "95002"}})
    assert customer.billing_address is not None
    assert customer.billing_address.zip_or_postal_code == "95002"


def test_families_without_a_model_use_the_base() -> None:
    assert model_for("Job") is BillObject
    assert model_for("Vendor") is Vendor
