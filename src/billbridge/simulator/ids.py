"""Deterministic IDs and secrets: BILL-shaped, unique, and different for every seed and environment."""

from __future__ import annotations

import hashlib
from functools import lru_cache

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_SPACE = 26**11
# Odd and not a multiple of 13, hence a unit modulo 26**11: the scramble below is a bijection.
_MULTIPLIER = 0x9E3779B97F4A7C15 % _SPACE | 1
_MASK64 = (1 << 64) - 1
_SERIAL_BITS = 26


def mix64(value: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread hash of an integer."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


@lru_cache(maxsize=4096)
def text_hash(*parts: object) -> int:
    """Stable 64-bit hash of some values (unlike ``hash()``, the same in every process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


# Base-26 digits three at a time: an ID costs four divmods instead of eleven.
_TRIPLES = tuple(a + b + c for a in _UPPER for b in _UPPER for c in _UPPER)
_PAIRS = tuple(a + b for a in _UPPER for b in _UPPER)


@lru_cache(maxsize=1024)
def _prefix_params(prefix: str, salt: int) -> tuple[int, str]:
    offset = (salt ^ text_hash(prefix)) % _SPACE
    tail_hash = mix64(salt ^ text_hash(prefix))
    tail = []
    for _ in range(4):
        tail_hash, digit = divmod(tail_hash, 26)
        tail.append(_LOWER[digit])
    return offset, "".join(tail)


def object_id(prefix: str, *, salt: int, org_index: int, serial: int) -> str:
    """A 20-character BILL ID: 3-char prefix, ``02``, 11 upper-case letters, 4 lower-case letters.

    Distinct (org_index, serial) pairs always give distinct IDs for one prefix and salt.
    """
    offset, tail = _prefix_params(prefix, salt)
    number = (((org_index << _SERIAL_BITS) | serial) * _MULTIPLIER + offset) % _SPACE
    number, first = divmod(number, 17_576)
    number, second = divmod(number, 17_576)
    last, third = divmod(number, 17_576)
    return prefix + "02" + _TRIPLES[first] + _TRIPLES[second] + _TRIPLES[third] + _PAIRS[last] + tail


def secret(*parts: object, length: int = 32) -> str:
    """A deterministic secret-looking string (developer keys, passwords, tokens)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=64).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest)[:length]
