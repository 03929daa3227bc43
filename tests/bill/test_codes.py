"""The table of BILL's codes: what each means for a link, a re-link and a retry."""

from __future__ import annotations

import string

import pytest

from billbridge.bill import CODES, needs_relink

FORM_FIELDS = {"username", "password", "organization_id", "dev_key"}
PLACEHOLDERS = {"here", "other", "in_here"}


def test_every_piece_of_advice_names_a_form_field_and_only_known_placeholders() -> None:
    advised = {code: info for code, info in CODES.items() if info.advice is not None}
    assert set(advised) == {
        "BDC_1101",
        "BDC_1102",
        "BDC_1103",
        "BDC_1107",
        "BDC_1110",
        "BDC_1111",
        "BDC_1123",
    }
    for code, info in advised.items():
        assert info.field in FORM_FIELDS, code
        assert info.advice is not None
        names = {name for _, name, _, _ in string.Formatter().parse(info.advice) if name}
        assert names <= PLACEHOLDERS, code


@pytest.mark.parametrize(
    ("code", "relink"),
    [
        ("BDC_1101", True),
        ("BDC_1102", True),
        ("BDC_1103", True),
        ("BDC_1123", True),
        ("BDC_1109", False),  # an expired session: log in again
        ("BDC_1110", False),  # a locked sign-in unlocks; the keeper cools down instead
        ("BDC_1001", False),
        ("BDC_9999", False),
        (None, False),
    ],
)
def test_only_refused_credentials_need_a_relink(code: str | None, relink: bool) -> None:
    assert needs_relink(code) is relink


def test_a_relink_code_is_never_retryable() -> None:
    assert not [code for code, info in CODES.items() if info.relink and info.retryable]
