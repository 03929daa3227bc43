"""The catalog of BILL object families: where each lives, how its IDs look, how to page it.

A table, not code: syncs and the simulator checks are built from it. ID prefixes come from
BILL's list of generated IDs (https://developer.bill.com/v2/docs/bill-generated-ids) and the
reference pages. ``updatedTime`` works as an incremental cursor on every list (sort on it, filter
``updatedTime:gte:<checkpoint>``); BILL cannot sort on ``id``, so records that share the
checkpoint's timestamp are told apart by ``primary_key`` when a page boundary repeats them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from billbridge.errors import ValidationError


@dataclass(frozen=True, slots=True)
class ObjectFamily:
    """One family of BILL objects.

    Attributes:
        name: the catalog key, the path below ``/v3/`` (``"vendors"``, ``"classifications/jobs"``).
        path: the list path, e.g. ``/v3/vendors``.
        id_prefix: the three characters every ID of the family starts with.
        model_name: the name of the pydantic model in ``billbridge.bill.models``.
        cursor_fields: timestamps every list can sort and range-filter on, preferred first.
        primary_key: the field that identifies a record (for dedupe at a cursor boundary).
        archivable: whether ``/{id}/archive`` and ``/{id}/restore`` exist.
        writable: whether records can be created through the API.
    """

    name: str
    path: str
    id_prefix: str
    model_name: str
    cursor_fields: tuple[str, ...] = ("updatedTime", "createdTime")
    primary_key: str = "id"
    archivable: bool = True
    writable: bool = True

    @property
    def cursor_field(self) -> str | None:
        """The main cursor field (``updatedTime``), or None for a family read whole each time."""
        return self.cursor_fields[0] if self.cursor_fields else None

    def item_path(self, object_id: str) -> str:
        """The path of one record, e.g. ``/v3/vendors/009...``."""
        return f"{self.path}/{object_id}"


def _family(
    name: str,
    id_prefix: str,
    model_name: str,
    *,
    archivable: bool = True,
    writable: bool = True,
    incremental: bool = True,
) -> ObjectFamily:
    return ObjectFamily(
        name=name,
        path=f"/v3/{name}",
        id_prefix=id_prefix,
        model_name=model_name,
        cursor_fields=("updatedTime", "createdTime") if incremental else (),
        archivable=archivable,
        writable=writable,
    )


_CATALOG: Final = (
    _family("users", "006", "User"),
    # A handful of fixed records that can only be filtered on id and type: read whole.
    _family("roles", "0po", "Role", archivable=False, writable=False, incremental=False),
    _family("vendors", "009", "Vendor"),
    _family("bills", "00n", "Bill"),
    # Payments are cancelled or voided, never archived.
    _family("payments", "stp", "Payment", archivable=False),
    _family("vendor-credits", "vcr", "VendorCredit"),
    # BILL spells this path without a hyphen, unlike recurring-invoices. Its list sorts only on
    # archived and description (docs/sortable-fields): no timestamp cursor, read whole.
    _family("recurringbills", "btp", "RecurringBill", incremental=False),
    _family("customers", "0cu", "Customer"),
    _family("invoices", "00e", "Invoice"),
    # Read-only: recorded through POST /v3/invoices/record-payment.
    _family("receivable-payments", "0rp", "ReceivablePayment", archivable=False, writable=False),
    _family("credit-memos", "ccr", "CreditMemo"),
    _family("recurring-invoices", "rit", "RecurringInvoice"),
    _family("funding-accounts/banks", "bac", "BankAccount"),
    _family("classifications/chart-of-accounts", "0ca", "ChartOfAccount"),
    _family("classifications/accounting-classes", "cls", "AccountingClass"),
    _family("classifications/departments", "0de", "Department"),
    _family("classifications/employees", "emp", "Employee"),
    _family("classifications/items", "0ii", "Item"),
    _family("classifications/jobs", "job", "Job"),
    _family("classifications/locations", "loc", "Location"),
)

FAMILIES: Final = MappingProxyType({family.name: family for family in _CATALOG})


def family(name: str) -> ObjectFamily:
    """Return the family called ``name``, accepting ``/v3/...`` paths as well.

    Raises:
        ValidationError: if no family has that name.
    """
    key = name.removeprefix("/").removeprefix("v3/").rstrip("/")
    found = FAMILIES.get(key)
    if found is None:
        raise ValidationError(
            f"unknown BILL object family {name!r}; known: {', '.join(FAMILIES)}", field="family"
        )
    return found


def family_of_id(object_id: str) -> ObjectFamily | None:
    """The family an ID belongs to by its prefix, or None."""
    prefix = object_id[:3]
    for candidate in _CATALOG:
        if candidate.id_prefix == prefix:
            return candidate
    return None
