"""The link form: what a person typed, checked field by field with the fix for each problem."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from billbridge.connections.link_errors import FieldProblem, LinkInputError

# BILL user names are e-mail addresses; this only catches what is surely not one.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# BILL object ids are 20 letters and digits with a 3-character type prefix; organizations use 008.
_ORG_ID = re.compile(r"^008[A-Za-z0-9]{17}$")
_MAX_LEN = 255
_FIELDS = ("username", "password", "organization_id", "dev_key")
_OPTIONAL = ("api_token",)
# The frontend SDK drops it, but pages that post the Connect UI's own credentials object send it.
_IGNORED = {"type": "BILL"}


@dataclass(frozen=True, slots=True)
class LinkForm:
    """What the person typed, checked and trimmed. Secrets stay SecretStr."""

    username: str
    password: SecretStr
    organization_id: str
    dev_key: SecretStr
    api_token: SecretStr | None = None


def parse_link_form(body: object) -> LinkForm:
    """Check a link request body and return the trimmed form.

    Args:
        body: the decoded JSON body: ``{username, password, organization_id, dev_key}`` and an
            optional ``api_token``.

    Raises:
        LinkInputError: naming every field that is missing, blank or malformed, and the fix.
    """
    if not isinstance(body, Mapping):
        raise LinkInputError(
            [FieldProblem("body", "Send a JSON object with username, password, organization_id and dev_key.")]
        )
    problems: list[FieldProblem] = []
    for key, value in body.items():
        if key not in _FIELDS and key not in _OPTIONAL and _IGNORED.get(str(key)) != value:
            problems.append(
                FieldProblem(
                    str(key),
                    f"{key} is not a field of a BILL link; send only username, password, "
                    "organization_id, dev_key and optionally api_token.",
                    "unrecognized_keys",
                )
            )
    values: dict[str, str] = {}
    for name in (*_FIELDS, *_OPTIONAL):
        raw = body.get(name)
        if raw is None and name in _OPTIONAL:
            continue
        if raw is not None and not isinstance(raw, str):
            problems.append(FieldProblem(name, f"{name} must be text.", "invalid_type"))
            continue
        text = raw if name == "password" else (raw or "").strip()
        if not text or not text.strip():
            problems.append(FieldProblem(name, _REQUIRED[name], "required"))
        elif len(text) > _MAX_LEN:
            problems.append(
                FieldProblem(name, f"{name} is too long: at most {_MAX_LEN} characters.", "too_big")
            )
        else:
            values[name] = text
    problems.extend(_format_problems(values))
    if problems:
        raise LinkInputError(problems)
    token = values.get("api_token")
    return LinkForm(
        username=values["username"],
        password=SecretStr(values["password"]),
        organization_id=values["organization_id"],
        dev_key=SecretStr(values["dev_key"]),
        api_token=SecretStr(token) if token else None,
    )


_REQUIRED = {
    "username": "username is required: enter the e-mail address you sign in to BILL with.",
    "password": "password is required: enter the password of that BILL user.",
    "organization_id": "organization_id is required: enter the BILL organization ID (it begins with 008).",
    "dev_key": "dev_key is required: enter the developer key BILL issued for this organization.",
    "api_token": "api_token is blank: enter the Spend & Expense API token, or leave the field out.",
}


def _format_problems(values: Mapping[str, str]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    username = values.get("username")
    if username is not None and not _EMAIL.match(username):
        problems.append(
            FieldProblem(
                "username",
                "username must be the e-mail address you sign in to BILL with, like name@company.com.",
                "invalid_string",
            )
        )
    org = values.get("organization_id")
    if org is not None and not org.startswith("008"):
        problems.append(
            FieldProblem(
                "organization_id",
                "organization_id must begin with 008: copy the organization ID from BILL "
                "(a user ID begins with 006, a developer key is something else).",
                "invalid_string",
            )
        )
    elif org is not None and not _ORG_ID.match(org):
        problems.append(
            FieldProblem(
                "organization_id",
                "organization_id must be 20 letters and digits beginning with 008; check that it was "
                "copied whole.",
                "invalid_string",
            )
        )
    dev_key = values.get("dev_key")
    if dev_key is not None and any(ch.isspace() for ch in dev_key):
        problems.append(
            FieldProblem(
                "dev_key", "dev_key must not contain spaces; paste the key exactly.", "invalid_string"
            )
        )
    return problems
