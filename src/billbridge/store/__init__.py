"""Persistence: database, schema migrations, the keyring, and one repository per aggregate."""

from __future__ import annotations

from billbridge.store.api_keys import ApiKeyRepository
from billbridge.store.budgets import BudgetRepository
from billbridge.store.connect_sessions import ConnectSessionRepository
from billbridge.store.connections import ConnectionRepository
from billbridge.store.crypto import Key, Keyring, generate_key, parse_keys
from billbridge.store.db import Database, create_database, create_engine
from billbridge.store.domain import (
    UNSET,
    BillCredentials,
    Clock,
    Connection,
    ConnectionStatus,
    ConnectionSummary,
    ConnectSession,
    EnvironmentName,
    Operation,
    RotationResult,
    SessionState,
    Unset,
    utc_now,
)
from billbridge.store.idempotency import IdempotencyRecord, IdempotencyRepository, StoredAnswer
from billbridge.store.keyring_check import MissingKeyError, open_keyring
from billbridge.store.locking import LoginHandle
from billbridge.store.operations import OperationRepository
from billbridge.store.record_pages import RecordPage
from billbridge.store.records import PageCounts, RecordRepository
from billbridge.store.rotate import rotate_keys
from billbridge.store.schema import migrate
from billbridge.store.sync_frequency import Frequency, parse_frequency
from billbridge.store.sync_state import SyncCheckpoint, SyncResult, SyncState, SyncStateRepository

__all__ = [
    "UNSET",
    "ApiKeyRepository",
    "BillCredentials",
    "BudgetRepository",
    "Clock",
    "ConnectSession",
    "ConnectSessionRepository",
    "Connection",
    "ConnectionRepository",
    "ConnectionStatus",
    "ConnectionSummary",
    "Database",
    "EnvironmentName",
    "Frequency",
    "IdempotencyRecord",
    "IdempotencyRepository",
    "Key",
    "Keyring",
    "LoginHandle",
    "MissingKeyError",
    "Operation",
    "OperationRepository",
    "PageCounts",
    "RecordPage",
    "RecordRepository",
    "RotationResult",
    "SessionState",
    "StoredAnswer",
    "SyncCheckpoint",
    "SyncResult",
    "SyncState",
    "SyncStateRepository",
    "Unset",
    "create_database",
    "create_engine",
    "generate_key",
    "migrate",
    "open_keyring",
    "parse_frequency",
    "parse_keys",
    "rotate_keys",
    "utc_now",
]
