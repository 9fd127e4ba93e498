"""Stores keep finished bundles; every store takes a complete folder and never overwrites."""

from archiver.store.base import Store, StoredBundle
from archiver.store.local import LocalStore

__all__ = ["LocalStore", "Store", "StoredBundle"]
