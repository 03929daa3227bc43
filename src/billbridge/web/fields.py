"""One set of field limits for every route that takes end users, organizations and tags.

A value accepted by one route (``PATCH /connections/{id}``) is copied by another (a reconnect
session), so both must hold it to the same limits.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

MAX_TEXT = 255
MAX_TAG_KEY = 64
MAX_TAGS = 64


def _without_nul(value: str) -> str:
    # PostgreSQL cannot store U+0000: refused alike on every database (bodies parsed by FastAPI
    # skip read_json's check of the raw JSON).
    if "\x00" in value:
        raise ValueError("may not contain the NUL character (U+0000)")
    return value


NoNul = AfterValidator(_without_nul)
Text255 = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT), NoNul]
Short = Annotated[str, StringConstraints(max_length=MAX_TEXT), NoNul]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TAG_KEY), NoNul]
Tags = Annotated[dict[TagKey, Short], Field(max_length=MAX_TAGS)]


class Strict(BaseModel):
    """A body model that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


class OrganizationIn(Strict):
    id: Text255
    display_name: Short | None = None


class EndUserIn(Strict):
    id: Text255
    email: EmailStr | None = None
    display_name: Short | None = None
    tags: Tags | None = None


class EndUserWithOrganizationIn(EndUserIn):
    """``PATCH /connections/{id}``: the organization travels inside the end user."""

    organization: OrganizationIn | None = None
