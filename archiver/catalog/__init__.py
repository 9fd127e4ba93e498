"""The catalog: what was run, captured, stored and registered. SQLite by default, any SQLAlchemy URL."""

from archiver.catalog.db import Catalog, catalog_url_for

__all__ = ["Catalog", "catalog_url_for"]
