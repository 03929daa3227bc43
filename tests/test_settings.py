"""Settings: the API secret key must be long and random enough, and the error says why."""

from __future__ import annotations

import secrets
import uuid

import pytest

from billbridge.errors import ConfigurationError
from billbridge.settings import get_settings


@pytest.mark.parametrize(
    "weak",
    ["Sh0rtK3y", "x" * 31, "a" * 64, "abababababababababababababababab", " " * 40 + "Zq9"],
)
def test_a_short_or_repetitive_secret_key_is_refused(weak: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        get_settings(secret_key=weak)

    message = caught.value.message
    assert "BILLBRIDGE_SECRET_KEY" in message
    assert "guessed" in message  # the reason, not just the rule
    assert weak.strip() not in message  # the rejected key is never echoed


@pytest.mark.parametrize("strong", [str(uuid.uuid4()), secrets.token_urlsafe(32), secrets.token_hex(16)])
def test_random_keys_of_32_characters_or_more_are_accepted(strong: str) -> None:
    settings = get_settings(secret_key=strong)

    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == strong


def test_limits_and_deadlines_have_safe_defaults() -> None:
    settings = get_settings()

    assert 64 * 1024 <= settings.max_body_bytes <= 1024 * 1024
    assert settings.proxy_max_body_bytes >= settings.max_body_bytes
    assert 10 <= settings.link_timeout_seconds <= 60
