"""``X-Billbridge-Signature``: what a receiver's check accepts and refuses."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from billbridge.signatures import TOLERANCE, SignatureError, sign, verify_signature

KEY = "whsec-test-signing-key"
BODY = b'{"connectionId":"c1","from":"nango","success":true,"type":"auth"}'
NOW = 1_780_000_000


def test_the_value_is_stripes_layout_over_time_and_body() -> None:
    value = sign(BODY, KEY, timestamp=NOW)
    expected = hmac.new(KEY.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert value == f"t={NOW},v1={expected}"


def test_a_fresh_signature_verifies_and_gives_its_time() -> None:
    assert verify_signature(BODY, sign(BODY, KEY, timestamp=NOW), KEY, now=NOW + 10) == NOW
    assert verify_signature(BODY, sign(BODY, KEY), KEY) > 0


@pytest.mark.parametrize("offset", [TOLERANCE + 1, -(TOLERANCE + 1), 86_400])
def test_a_replay_outside_the_tolerance_is_refused(offset: int) -> None:
    with pytest.raises(SignatureError, match="tolerance"):
        verify_signature(BODY, sign(BODY, KEY, timestamp=NOW), KEY, now=NOW + offset)


def test_the_edge_of_the_tolerance_is_accepted() -> None:
    assert verify_signature(BODY, sign(BODY, KEY, timestamp=NOW), KEY, now=NOW + TOLERANCE) == NOW


@pytest.mark.parametrize(
    ("body", "key", "retimed"),
    [(BODY + b" ", KEY, False), (BODY, "another-key", False), (BODY, KEY, True)],
    ids=["body changed", "other key", "timestamp changed"],
)
def test_a_changed_body_key_or_timestamp_does_not_verify(body: bytes, key: str, retimed: bool) -> None:
    header = sign(BODY, KEY, timestamp=NOW)
    if retimed:  # an attacker moving an old delivery into the window
        header = header.replace(f"t={NOW}", f"t={NOW + 1000}")
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(body, header, key, now=NOW)


@pytest.mark.parametrize("header", [None, "", "v1=abc", f"t={NOW}", "t=²,v1=abc", f"t=-{NOW},v1=abc"])
def test_a_missing_or_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_signature(BODY, header, KEY, now=NOW)


def test_any_of_several_v1_values_may_match_during_a_key_rotation() -> None:
    old = sign(BODY, "old-key", timestamp=NOW)
    new = sign(BODY, KEY, timestamp=NOW).split(",")[1]
    assert verify_signature(BODY, f"{old},{new}", KEY, now=NOW) == NOW


def _readme_block(language: str) -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Webhook signatures", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"the section has no {language} block"
    return match.group(1)


def test_the_readme_python_check_accepts_fresh_and_refuses_replayed_deliveries() -> None:
    scope: dict[str, Any] = {}
    exec(_readme_block("python"), scope)
    is_genuine = scope["is_genuine"]
    assert is_genuine(BODY, {"X-Billbridge-Signature": sign(BODY, KEY)}, KEY)
    stale = sign(BODY, KEY, timestamp=int(time.time()) - TOLERANCE - 5)
    assert not is_genuine(BODY, {"X-Billbridge-Signature": stale}, KEY)
    assert not is_genuine(BODY, {}, KEY)


def test_the_readme_node_check_agrees() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not installed: run ./scripts/setup --test")
    fresh = sign(BODY, KEY)
    stale = sign(BODY, KEY, timestamp=int(time.time()) - TOLERANCE - 5)
    program = _readme_block("js") + (
        "const [body, key, fresh, stale] = process.argv.slice(1);\n"
        "console.log(JSON.stringify([verifyBillbridge(body, fresh, key), verifyBillbridge(body, stale, key),"
        " verifyBillbridge(body + ' ', fresh, key)]));\n"
    )
    result = subprocess.run(
        ["node", "--input-type=module", "-e", program, BODY.decode(), KEY, fresh, stale],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(result.stdout) == [True, False, False]
