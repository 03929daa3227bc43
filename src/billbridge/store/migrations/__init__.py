"""Alembic migrations of the billbridge schema (run by ``billbridge.store.schema.migrate``)."""
