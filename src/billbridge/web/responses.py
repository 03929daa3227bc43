"""Schemas of the API's success answers, for the OpenAPI document only.

The routes build their answers with :mod:`billbridge.web.formatters` (Nango's exact shapes); these
models describe those shapes and are checked against real answers by the schemathesis run.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Timestamp = str  # ISO 8601 in UTC, "+00:00" (connections) or "Z" (connect sessions)


class OrganizationOut(BaseModel):
    id: str | None
    display_name: str | None


class EndUserOut(BaseModel):
    id: str | None
    display_name: str | None
    email: str | None
    tags: dict[str, Any]
    organization: OrganizationOut | None


class ConnectionErrorOut(BaseModel):
    type: str
    log_id: str


class ConnectionListItem(BaseModel):
    id: int
    connection_id: str
    provider_config_key: str
    provider: Literal["bill"]
    errors: list[ConnectionErrorOut]
    end_user: EndUserOut | None
    tags: dict[str, str]
    metadata: dict[str, Any]
    created: Timestamp


class ConnectionList(BaseModel):
    connections: list[ConnectionListItem]


class BillCredentialsOut(BaseModel):
    """BILL's credentials as Nango returns them, without the password (billbridge never returns it)."""

    type: Literal["BILL"]
    username: str
    organization_id: str
    dev_key: str
    session_id: str | None
    user_id: str | None
    expires_at: Timestamp | None
    raw: dict[str, Any]


class ConnectionOut(BaseModel):
    id: int
    connection_id: str
    provider_config_key: str
    provider: Literal["bill"]
    errors: list[ConnectionErrorOut]
    end_user: EndUserOut | None
    tags: dict[str, str]
    metadata: dict[str, Any]
    connection_config: dict[str, Any]
    webhook_url_override: str | None
    created_at: Timestamp
    updated_at: Timestamp
    last_fetched_at: Timestamp | None
    credentials: BillCredentialsOut


class Success(BaseModel):
    success: bool


class MetadataEcho(BaseModel):
    """The request body, echoed."""

    connection_id: str | list[str]
    provider_config_key: str
    metadata: dict[str, Any]


class ConnectSessionToken(BaseModel):
    token: str = Field(pattern=r"^nango_connect_session_[0-9a-f]{64}$")
    connect_link: str
    expires_at: Timestamp


class ConnectSessionCreated(BaseModel):
    data: ConnectSessionToken


class ReconnectTarget(BaseModel):
    connection_id: str
    provider_config_key: str
    username: str | None
    organization_id: str | None


class ConnectSessionData(BaseModel):
    endUser: EndUserOut | None
    connectUISettings: dict[str, Any]
    isReconnecting: bool
    mfa_required: bool
    expires_at: Timestamp
    allowed_integrations: list[str] = Field(default_factory=list)
    integrations_config_defaults: dict[str, Any] = Field(default_factory=dict)
    reconnect: ReconnectTarget | None = None


class ConnectSessionOut(BaseModel):
    data: ConnectSessionData


class Linked(BaseModel):
    connectionId: str
    providerConfigKey: str


class IntegrationOut(BaseModel):
    unique_key: str
    provider: Literal["bill"]
    display_name: str
    logo: str
    forward_webhooks: bool
    created_at: Timestamp
    updated_at: Timestamp
    webhook_url: str | None = None
    credentials: dict[str, Any] | None = None


class IntegrationList(BaseModel):
    data: list[IntegrationOut]


class IntegrationOne(BaseModel):
    data: IntegrationOut


class MfaChallenge(BaseModel):
    """A challenge was sent (``challengeId``), or BILL already trusts the device (``trusted``)."""

    challengeId: str | None = None
    trusted: bool | None = None
    remembered: bool | None = None


class MfaValidated(BaseModel):
    trusted: bool
    remembered: bool


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class NangoMetadata(BaseModel):
    first_seen_at: Timestamp
    last_modified_at: Timestamp
    last_action: Literal["ADDED", "UPDATED", "DELETED"]
    deleted_at: Timestamp | None
    pruned_at: Timestamp | None = None
    cursor: str


class RecordOut(BaseModel):
    """A synced record: BILL's object as stored, its ``id``, and Nango's metadata."""

    id: str
    nango_metadata: NangoMetadata = Field(alias="_nango_metadata")


class RecordsPage(BaseModel):
    records: list[RecordOut]
    next_cursor: str | None


class SyncStatusOut(BaseModel):
    id: str
    connection_id: str
    type: str
    finishedAt: Timestamp | None
    nextScheduledSyncAt: Timestamp | None
    name: str
    variant: str
    status: str
    frequency: str
    latestResult: dict[str, Any] | None
    latestExecutionStatus: str | None
    recordCount: dict[str, int]
    checkpoint: dict[str, Any] | None


class SyncStatusList(BaseModel):
    syncs: list[SyncStatusOut]


class FrequencyOut(BaseModel):
    frequency: str = Field(description="The interval now in force, as Nango writes it.")
