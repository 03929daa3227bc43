"""The keyring: round trips, associated data, tampering, several keys, parsing."""

from __future__ import annotations

import base64

import pytest

from billbridge.errors import ConfigurationError, DecryptionError
from billbridge.store import Key, Keyring, generate_key, parse_keys
from billbridge.store.crypto import field_aad

AAD = field_aad("connections", "bill-sandbox", "conn-1", "password")


def test_round_trip_and_token_names_its_key() -> None:
    ring = Keyring([generate_key("k1")])
    token = ring.encrypt("s3cret-Ünïcode", aad=AAD)
    assert token.startswith("bbk1:k1:")
    assert "s3cret" not in token
    assert ring.decrypt(token, aad=AAD) == "s3cret-Ünïcode"
    assert Keyring.key_id_of(token) == "k1"


def test_nonce_is_fresh_for_every_encryption() -> None:
    ring = Keyring([generate_key("k1")])
    tokens = {ring.encrypt("same", aad=AAD) for _ in range(50)}
    assert len(tokens) == 50
    raw = base64.urlsafe_b64decode(next(iter(tokens)).split(":")[2] + "==")
    assert len(raw) == 12 + len("same") + 16  # 96-bit nonce, ciphertext, 128-bit tag


@pytest.mark.parametrize(
    "other_aad",
    [
        field_aad("connections", "bill-sandbox", "conn-1", "dev_key"),  # another field
        field_aad("connections", "bill-sandbox", "conn-2", "password"),  # another row
        field_aad("connections", "bill", "conn-1", "password"),  # another integration
        b"",
    ],
)
def test_wrong_associated_data_fails(other_aad: bytes) -> None:
    ring = Keyring([generate_key("k1")])
    token = ring.encrypt("secret", aad=AAD)
    with pytest.raises(DecryptionError) as caught:
        ring.decrypt(token, aad=other_aad)
    assert "secret" not in str(caught.value).replace("secret failed", "")


def test_aad_parts_cannot_be_shifted() -> None:
    # "a/b" + "c" must not collide with "a" + "b/c": the parts are encoded unambiguously.
    assert field_aad("x", "a/b", "c") != field_aad("x", "a", "b/c")
    assert field_aad("x", 'a","b') != field_aad("x", "a", "b")


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_tampered_ciphertext_fails(position: int) -> None:
    ring = Keyring([generate_key("k1")])
    prefix, key_id, body = ring.encrypt("secret value", aad=AAD).split(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=="))
    raw[position] ^= 0x01
    tampered = ":".join([prefix, key_id, base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")])
    with pytest.raises(DecryptionError):
        ring.decrypt(tampered, aad=AAD)


@pytest.mark.parametrize("token", ["", "plain text", "bbk1:k1:", "bbk1:k1:!!!", "v0:k1:abcd", "bbk1:k1:AAAA"])
def test_malformed_tokens_fail_cleanly(token: str) -> None:
    with pytest.raises(DecryptionError):
        Keyring([generate_key("k1")]).decrypt(token, aad=AAD)


def test_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = generate_key("old"), generate_key("new")
    before = Keyring([old]).encrypt("value", aad=AAD)
    ring = Keyring([new, old])
    assert ring.primary_id == "new"
    assert ring.decrypt(before, aad=AAD) == "value"
    after = ring.encrypt("value", aad=AAD)
    assert Keyring.key_id_of(after) == "new"
    assert Keyring([new]).decrypt(after, aad=AAD) == "value"
    with pytest.raises(DecryptionError, match="'old'"):
        Keyring([new]).decrypt(before, aad=AAD)


def test_same_id_different_key_fails() -> None:
    token = Keyring([generate_key("k1")]).encrypt("value", aad=AAD)
    with pytest.raises(DecryptionError):
        Keyring([generate_key("k1")]).decrypt(token, aad=AAD)


def test_parse_keys_accepts_both_alphabets_and_separators() -> None:
    key_a, key_b = bytes(range(32)), bytes(range(200, 232))
    text = (
        f"a:{base64.b64encode(key_a).decode()},\n"
        f" b:{base64.urlsafe_b64encode(key_b).decode().rstrip('=')}\n# comment\n"
    )
    keys = parse_keys(text)
    assert [(k.key_id, k.secret) for k in keys] == [("a", key_a), ("b", key_b)]
    assert parse_keys(keys[0].line())[0] == keys[0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no key"),
        ("nocolon", "id:base64key"),
        ("k1:" + base64.b64encode(b"short").decode(), "32 bytes"),
        ("k1:###", "not valid base64"),
        ("bad id:" + base64.b64encode(bytes(32)).decode(), "invalid"),
        ("k:{0},k:{0}".format(base64.b64encode(bytes(32)).decode()), "unique"),
    ],
)
def test_parse_keys_rejects_bad_input_without_echoing_it(text: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment) as caught:
        parse_keys(text)
    assert "BILLBRIDGE_ENCRYPTION_KEY" in caught.value.message
    secret_part = text.partition(":")[2]
    if len(secret_part) > 8:
        assert secret_part not in caught.value.message


def test_reprs_hide_key_material() -> None:
    key = generate_key("k1")
    ring = Keyring([key])
    encoded = base64.b64encode(key.secret).decode()
    for shown in (repr(key), repr(ring), str(ring)):
        assert encoded not in shown
        assert repr(key.secret) not in shown
    assert "k1" in repr(ring)


def test_key_checks_length_and_id() -> None:
    with pytest.raises(ConfigurationError):
        Key("k1", bytes(16))
    with pytest.raises(ConfigurationError):
        Key("has:colon", bytes(32))
    with pytest.raises(ConfigurationError):
        Keyring([])
