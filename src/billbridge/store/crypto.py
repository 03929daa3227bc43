"""AES-256-GCM keyring: the first key encrypts, every key decrypts, tokens name their key."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from billbridge.errors import ConfigurationError, DecryptionError

if TYPE_CHECKING:
    from billbridge.settings import Settings

TOKEN_PREFIX = "bbk1"
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def field_aad(scope: str, *parts: str) -> bytes:
    """Associated data binding a ciphertext to its place (table, row identity, field name).

    JSON keeps the parts unambiguous whatever characters an id contains.
    """
    return json.dumps([scope, *parts], separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Key:
    """One keyring entry; ``repr`` shows the id only."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.match(self.key_id):
            raise ConfigurationError(
                f"Encryption key id {self.key_id!r} is invalid: use 1-32 letters, digits, '_' or '-'."
            )
        if len(self.secret) != KEY_BYTES:
            raise ConfigurationError(f"Encryption key {self.key_id!r} must be {KEY_BYTES} bytes (AES-256).")

    def line(self) -> str:
        """The ``id:base64key`` form used by BILLBRIDGE_ENCRYPTION_KEY and the key file."""
        return f"{self.key_id}:{base64.b64encode(self.secret).decode()}"


def generate_key(key_id: str | None = None) -> Key:
    """A fresh random 256-bit key; the default id is ``k`` + 8 hex characters."""
    return Key(key_id or f"k{secrets.token_hex(4)}", os.urandom(KEY_BYTES))


def parse_keys(text: str, *, source: str = "BILLBRIDGE_ENCRYPTION_KEY") -> list[Key]:
    """Parse ``id:base64key`` entries separated by commas or newlines (first one encrypts).

    Raises:
        ConfigurationError: an entry is malformed, a key is not 32 bytes, or ids repeat. The message
            names ``source`` and the key id, never key material.
    """
    keys: list[Key] = []
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    entries = [entry.strip() for line in lines for entry in line.split(",") if entry.strip()]
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.partition(":")
        if not sep:
            raise ConfigurationError(f"{source}: entry {position} is not of the form id:base64key.")
        try:
            secret = _b64decode_any(encoded)
        except (binascii.Error, ValueError):
            raise ConfigurationError(f"{source}: key {key_id.strip()!r} is not valid base64.") from None
        try:
            keys.append(Key(key_id.strip(), secret))
        except ConfigurationError as exc:
            raise ConfigurationError(f"{source}: {exc.message}") from None
    if not keys:
        raise ConfigurationError(f"{source}: no key found.")
    ids = [k.key_id for k in keys]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"{source}: key ids must be unique.")
    return keys


class Keyring:
    """Keys by id. ``encrypt`` uses the first (newest) key; ``decrypt`` any key named by the token.

    Token format: ``bbk1:<key id>:<base64url(nonce | ciphertext | tag)>`` with a 96-bit random nonce.

    Attributes:
        created_key_file: the key file's path when :meth:`from_settings` created it just now
            (tell the operator once), else ``None``.
    """

    def __init__(self, keys: Sequence[Key], *, created_key_file: Path | None = None) -> None:
        if not keys:
            raise ConfigurationError("A keyring needs at least one key.")
        self._keys = list(keys)
        self._ciphers = {k.key_id: AESGCM(k.secret) for k in self._keys}
        if len(self._ciphers) != len(self._keys):
            raise ConfigurationError("Encryption key ids must be unique.")
        self.created_key_file = created_key_file

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """The keyring from BILLBRIDGE_ENCRYPTION_KEY, else from (or into) the key file in DATA_DIR."""
        if settings.encryption_key is not None:
            return cls(parse_keys(settings.encryption_key.get_secret_value()))
        from billbridge.store.keyfile import key_file_path, load_or_create_key_file

        keys, created = load_or_create_key_file(key_file_path(settings.data_dir))
        return cls(keys, created_key_file=key_file_path(settings.data_dir) if created else None)

    @property
    def primary_id(self) -> str:
        """Id of the key that encrypts."""
        return self._keys[0].key_id

    @property
    def key_ids(self) -> list[str]:
        """All key ids, newest (encrypting) first."""
        return [k.key_id for k in self._keys]

    @property
    def keys(self) -> list[Key]:
        """The keys, newest first."""
        return list(self._keys)

    def encrypt(self, plaintext: str, *, aad: bytes | str) -> str:
        """Encrypt ``plaintext`` under the primary key, bound to ``aad``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.primary_id].encrypt(nonce, plaintext.encode(), _aad_bytes(aad))
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{TOKEN_PREFIX}:{self.primary_id}:{body}"

    def decrypt(self, token: str, *, aad: bytes | str) -> str:
        """Open a token made by :meth:`encrypt` with the same ``aad``.

        Raises:
            DecryptionError: malformed token, unknown key id, tampered data or different ``aad``.
        """
        prefix, _, rest = token.partition(":")
        key_id, _, body = rest.partition(":")
        if prefix != TOKEN_PREFIX or not body:
            raise DecryptionError("A stored secret is not in the keyring's token format.")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(
                f"A stored secret was encrypted with key {key_id!r}, which is not in the keyring; "
                "add it back to BILLBRIDGE_ENCRYPTION_KEY (or the key file)."
            )
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad_bytes(aad))
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                "A stored secret failed authentication (tampered, or moved between rows or fields)."
            ) from None
        return plain.decode()

    @staticmethod
    def key_id_of(token: str) -> str | None:
        """The key id a token names, or None if it is not a keyring token."""
        prefix, _, rest = token.partition(":")
        key_id, sep, _ = rest.partition(":")
        return key_id if prefix == TOKEN_PREFIX and sep else None

    def __repr__(self) -> str:
        return f"Keyring(key_ids={self.key_ids!r})"


def _b64decode_any(encoded: str) -> bytes:
    # Accept standard and URL-safe alphabets, with or without padding.
    text = encoded.strip().rstrip("=").replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _aad_bytes(aad: bytes | str) -> bytes:
    return aad.encode() if isinstance(aad, str) else aad
