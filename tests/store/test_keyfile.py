"""The key file of the embedded default: created once, private, read back, checked."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from billbridge.errors import ConfigurationError
from billbridge.settings import get_settings
from billbridge.store import Keyring, generate_key
from billbridge.store.crypto import field_aad
from billbridge.store.keyfile import key_file_path, load_or_create_key_file, read_key_file, write_key_file

AAD = field_aad("t", "x")


def test_first_run_creates_a_private_key_file_and_says_so(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = get_settings(data_dir=data_dir, encryption_key=None)
    first = Keyring.from_settings(settings)
    path = key_file_path(data_dir)
    assert first.created_key_file == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700

    second = Keyring.from_settings(settings)
    assert second.created_key_file is None
    assert second.key_ids == first.key_ids
    assert second.decrypt(first.encrypt("value", aad=AAD), aad=AAD) == "value"


def test_environment_key_wins_over_the_key_file(tmp_path: Path) -> None:
    key = generate_key("env")
    settings = get_settings(data_dir=tmp_path, encryption_key=key.line())
    ring = Keyring.from_settings(settings)
    assert ring.key_ids == ["env"]
    assert ring.created_key_file is None
    assert not key_file_path(tmp_path).exists()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = key_file_path(tmp_path)
    load_or_create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        read_key_file(path)


def test_second_creator_reads_the_first_ones_key(tmp_path: Path) -> None:
    path = key_file_path(tmp_path)
    keys, created = load_or_create_key_file(path)
    again, created_again = load_or_create_key_file(path)
    assert created
    assert not created_again
    assert again == keys
    # A racing creator that lost the link keeps the winner's file intact.
    from billbridge.store.keyfile import _create_exclusive

    assert _create_exclusive(path, [generate_key("loser")]) is False
    assert read_key_file(path) == keys
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_write_key_file_replaces_atomically_and_stays_private(tmp_path: Path) -> None:
    path = key_file_path(tmp_path)
    old, _ = load_or_create_key_file(path)
    new = generate_key("new")
    write_key_file(path, [new, *old])
    assert [k.key_id for k in read_key_file(path)] == ["new", old[0].key_id]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_malformed_key_file_names_the_file(tmp_path: Path) -> None:
    path = key_file_path(tmp_path)
    load_or_create_key_file(path)
    path.write_text("garbage\n")
    with pytest.raises(ConfigurationError, match=r"key file encryption\.key"):
        read_key_file(path)
