"""Stores keep finished bundles; every store takes a complete folder and never overwrites."""

from archiver.store.base import Store, StoredBundle
from archiver.store.local import LocalStore
from archiver.store.s3 import S3Store

__all__ = ["LocalStore", "S3Store", "Store", "StoredBundle"]
