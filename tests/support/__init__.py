"""Helpers every test package shares (tests/ is on sys.path through the root conftest)."""
