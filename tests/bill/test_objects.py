"""The catalog of object families."""

from __future__ import annotations

import pytest

from billbridge.bill import FAMILIES, family, family_of_id, model_for
from billbridge.bill.models import BillObject
from billbridge.errors import ValidationError

EXPECTED = {
    "users": "006",
    "roles": "0po",
    "vendors": "009",
    "bills": "00n",
    "payments": "stp",
    "vendor-credits": "vcr",
    "recurringbills": "btp",
    "customers": "0cu",
    "invoices": "00e",
    "receivable-payments": "0rp",
    "credit-memos": "ccr",
    "recurring-invoices": "rit",
    "funding-accounts/banks": "bac",
    "classifications/chart-of-accounts": "0ca",
    "classifications/accounting-classes": "cls",
    "classifications/departments": "0de",
    "classifications/employees": "emp",
    "classifications/items": "0ii",
    "classifications/jobs": "job",
    "classifications/locations": "loc",
}


def test_catalog_has_every_family_with_its_prefix() -> None:
    assert {name: f.id_prefix for name, f in FAMILIES.items()} == EXPECTED


def test_paths_models_and_cursors() -> None:
    for name, entry in FAMILIES.items():
        assert entry.path == f"/v3/{name}"
        if name in ("roles", "recurringbills"):  # lists that cannot sort on a timestamp
            assert (entry.cursor_field, entry.cursor_fields) == (None, ())
        else:
            assert entry.cursor_field == "updatedTime"
            assert entry.cursor_fields == ("updatedTime", "createdTime")
        assert entry.primary_key == "id"
        assert entry.model_name[0].isupper()
        assert issubclass(model_for(entry.model_name), BillObject)
    assert len({f.model_name for f in FAMILIES.values()}) == len(FAMILIES)
    assert FAMILIES["vendors"].item_path("009abc") == "/v3/vendors/009abc"
    assert not FAMILIES["receivable-payments"].writable


def test_lookup_by_name_path_and_id() -> None:
    assert family("/v3/vendors/") is FAMILIES["vendors"]
    assert family("classifications/jobs") is FAMILIES["classifications/jobs"]
    assert family_of_id("00n01ABCDEFGHIJKLMNO") is FAMILIES["bills"]
    assert family_of_id("zzz") is None
    with pytest.raises(ValidationError, match="unknown BILL object family"):
        family("recurring-bills")
