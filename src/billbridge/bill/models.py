"""Typed views of BILL objects (pydantic), lossless: unknown fields are kept as they came.

Field names follow BILL's camelCase on the wire and snake_case in Python. Every field is optional
because BILL omits empty ones; ``to_bill()`` writes back exactly the fields that were read, with
timestamps in BILL's ``2024-10-16T13:36:31.000+00:00`` form. Parsing is for callers that want
types; the client's raw paths never pay for it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel


def format_timestamp(value: datetime) -> str:
    """BILL's timestamp form: ISO 8601 with milliseconds and a numeric offset."""
    return value.isoformat(timespec="milliseconds")


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str, when_used="json")]


class BillModel(BaseModel):
    """Base of every BILL model: camelCase aliases, unknown fields kept."""

    model_config = ConfigDict(
        extra="allow", alias_generator=to_camel, populate_by_name=True, validate_assignment=False
    )

    def to_bill(self) -> dict[str, Any]:
        """The object as BILL's JSON (only the fields that were read or set)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class BillObject(BillModel):
    """Fields shared by the records of every family."""

    id: str | None = None
    archived: bool | None = None
    created_time: Timestamp | None = None
    updated_time: Timestamp | None = None


class RoleRef(BillModel):
    """The role embedded in a user."""

    id: str | None = None
    type: str | None = None
    description: str | None = None


class User(BillObject):
    """An organization user (``006...``)."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    role: RoleRef | None = None


class Role(BillObject):
    """A user role (``0po...``): ADMINISTRATOR, ACCOUNTANT, APPROVER, PAYER, CLERK, AUDITOR, ..."""

    type: str | None = None
    description: str | None = None


class Address(BillModel):
    """A postal address as BILL writes it."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state_or_province: str | None = None
    zip_or_postal_code: str | None = None
    country: str | None = None


class Vendor(BillObject):
    """A vendor (``009...``)."""

    name: str | None = None
    short_name: str | None = None
    account_type: str | None = None
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    bill_currency: str | None = None
    payment_information: dict[str, Any] | None = None
    additional_info: dict[str, Any] | None = None
    auto_pay: Any = None
    network_status: str | None = None
    balance: float | None = None


class BillInvoiceRef(BillModel):
    """The vendor's invoice a bill records."""

    invoice_number: str | None = None
    invoice_date: date | None = None


class BillLineItem(BillModel):
    """One line of a bill."""

    id: str | None = None
    amount: float | None = None
    description: str | None = None
    classifications: dict[str, Any] | None = None


class Bill(BillObject):
    """A payable bill (``00n...``)."""

    vendor_id: str | None = None
    vendor_name: str | None = None
    invoice: BillInvoiceRef | None = None
    due_date: date | None = None
    amount: float | None = None
    due_amount: float | None = None
    payment_status: str | None = None
    bill_line_items: list[BillLineItem] | None = None
    pay_from_chart_of_account_id: str | None = None
    vendor_credits: list[dict[str, Any]] | None = None


class Customer(BillObject):
    """A customer (``0cu...``)."""

    name: str | None = None
    email: str | None = None
    company_name: str | None = None
    contact: Any = None
    phone: str | None = None
    fax: str | None = None
    description: str | None = None
    invoice_currency: str | None = None
    account_type: str | None = None
    payment_term_id: str | None = None
    account_number: str | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    balance: float | None = None


class InvoiceLineItem(BillModel):
    """One line of an invoice."""

    id: str | None = None
    quantity: float | None = None
    description: str | None = None
    price: float | None = None
    amount: float | None = None
    classifications: dict[str, Any] | None = None


class Invoice(BillObject):
    """A receivable invoice (``00e...``)."""

    invoice_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    customer_id: str | None = None
    customer: dict[str, Any] | None = None
    invoice_line_items: list[InvoiceLineItem] | None = None
    total_amount: float | None = None
    due_amount: float | None = None
    status: str | None = None
    pay_to_chart_of_account_id: str | None = None
    processing_options: dict[str, Any] | None = None


MODELS: dict[str, type[BillObject]] = {
    "User": User,
    "Role": Role,
    "Vendor": Vendor,
    "Bill": Bill,
    "Customer": Customer,
    "Invoice": Invoice,
}


def model_for(model_name: str) -> type[BillObject]:
    """The model class called ``model_name``; families without their own get :class:`BillObject`."""
    return MODELS.get(model_name, BillObject)
