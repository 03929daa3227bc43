"""Path confinement of the proxy: everything ambiguous is refused, the rest normalised."""

from __future__ import annotations

import pytest

from billbridge.connections.paths import confine_path, is_spend_path
from billbridge.errors import ValidationError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/v3/vendors", "/v3/vendors"),
        ("v3/vendors", "/v3/vendors"),
        ("/v3//vendors", "/v3/vendors"),
        ("/v3/vendors/", "/v3/vendors/"),
        ("/v3/vendors/00901ABCDEFGHIJKLMNO", "/v3/vendors/00901ABCDEFGHIJKLMNO"),
        ("/v3/login/session", "/v3/login/session"),
        ("/v3/spend/users/current", "/v3/spend/users/current"),
        ("/v3/vendors/a%20b", "/v3/vendors/a b"),
        ("/v3/vendors/caf%C3%A9", "/v3/vendors/café"),
        ("/v3/vendors/100%25", "/v3/vendors/100%"),
        ("/v3/vendors/%3Fx", "/v3/vendors/?x"),
    ],
)
def test_accepted_paths_are_normalised(given: str, expected: str) -> None:
    assert confine_path(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "/v3/../admin",
        "/v3/vendors/../../etc/passwd",
        "/v3/./vendors",
        "/v3/%2e%2e/x",
        "/v3/%2E%2E/x",
        "/v3/.%2e/x",
        "/v3/%252e%252e/x",
        "/v3/%25252e%25252e/x",
        "/v3/vendors%2f..%2fx",
        "/v3/vendors%2F%2E%2E",
        "/v3/a%5cb",
        "/v3\\..\\x",
        "https://evil.example/v3/vendors",
        "//evil.example/v3/vendors",
        "http:/evil/v3/x",
        "/v3/vendors?max=1",
        "/v3/vendors#x",
        "/v3/ven dors",
        "/v3/vendors\r\nHost: evil",
        "/v3/vendors%0d%0aX: y",
        "/v3/vendors%zz",
        "/v2/Login.json",
        "/connect/v3/vendors",
        "/v3",
        "/v3/",
        "/",
        "",
        "/V3/vendors",
        "/v3/login",
        "/v3/logout/",
        "/v3/LOGIN",
        "/v3/" + "a" * 3000,
    ],
)
def test_refused_paths(given: str) -> None:
    with pytest.raises(ValidationError) as caught:
        confine_path(given)
    assert caught.value.code == "invalid_proxy_path"
    assert caught.value.field == "path"


def test_spend_paths() -> None:
    assert is_spend_path("/v3/spend/users")
    assert is_spend_path("/v3/spend")
    assert not is_spend_path("/v3/spender")
    assert not is_spend_path("/v3/vendors")
