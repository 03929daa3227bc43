"""The embedded default's key file: created once (0600) in DATA_DIR, read on every start."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from billbridge.errors import ConfigurationError
from billbridge.store.crypto import Key, generate_key, parse_keys

KEY_FILE_NAME = "encryption.key"
_HEADER = (
    "# billbridge encryption keys, one id:base64key per line; the first line encrypts.\n"
    "# Keep this file secret and back it up: without it stored credentials cannot be read.\n"
)


def key_file_path(data_dir: Path) -> Path:
    """Where the key file lives inside ``data_dir``."""
    return data_dir / KEY_FILE_NAME


def load_or_create_key_file(path: Path) -> tuple[list[Key], bool]:
    """Read the keys in ``path``, creating the file with one new key first if it is missing.

    Returns:
        The keys (first encrypts) and whether the file was created by this call.

    Raises:
        ConfigurationError: the file is readable by group or others, or its content is malformed.
    """
    created = False
    if not path.exists():
        created = _create_exclusive(path, [generate_key()])
    return read_key_file(path), created


def read_key_file(path: Path) -> list[Key]:
    """Parse a key file after checking that only its owner can read it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigurationError(f"Key file {path.name} not found in the data directory.") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"Key file {path.name} in the data directory is accessible by other users; "
            "restrict it with chmod 600."
        )
    return parse_keys(path.read_text(encoding="utf-8"), source=f"key file {path.name}")


def write_key_file(path: Path, keys: Sequence[Key]) -> None:
    """Replace the key file atomically (new content is 0600 from its first byte)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_private(tmp, keys)
    os.replace(tmp, path)


def _create_exclusive(path: Path, keys: Sequence[Key]) -> bool:
    # Write a private temp file, then hard-link it into place: the link fails if another process
    # won the race, and nobody ever sees a half-written key file.
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    _write_private(tmp, keys)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return True


def _write_private(path: Path, keys: Sequence[Key]) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(_HEADER + "".join(f"{k.line()}\n" for k in keys))
        handle.flush()
        os.fsync(handle.fileno())
