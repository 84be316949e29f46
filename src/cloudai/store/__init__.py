"""Persistence: the SQL implementation of `cloudai.ports.Store` and its migrations."""

from cloudai.store.sql import SqlStore, migrate, open_store

__all__ = ["SqlStore", "migrate", "open_store"]
