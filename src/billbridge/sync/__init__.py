"""Syncs: BILL lists kept as records, run as durable DBOS workflows (see ``engine``)."""

from __future__ import annotations

from billbridge.sync.definitions import SYNCS, SyncDefinition, get_sync, syncs_for
from billbridge.sync.engine import SyncEngine
from billbridge.sync.fetch import PageFetcher, SyncStopped
from billbridge.sync.launch import DbosOptions, default_executor_id, system_database_url
from billbridge.sync.plan import SyncPlan
from billbridge.sync.queueing import QUEUE, Enqueued, partition_key, run_prefix
from billbridge.sync.steps import StepContext

__all__ = [
    "QUEUE",
    "SYNCS",
    "DbosOptions",
    "Enqueued",
    "PageFetcher",
    "StepContext",
    "SyncDefinition",
    "SyncEngine",
    "SyncPlan",
    "SyncStopped",
    "default_executor_id",
    "get_sync",
    "partition_key",
    "run_prefix",
    "syncs_for",
    "system_database_url",
]
