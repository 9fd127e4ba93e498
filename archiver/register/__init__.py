"""The register of pages to archive (`schedules/pages.yaml`): loading, validation and lookup."""

from archiver.register.addresses import is_private_host
from archiver.register.load import load_register
from archiver.register.schema import (
    PLATFORMS,
    BundleSettings,
    CaptureSettings,
    PageEntry,
    Register,
    S3Settings,
    ScheduleSettings,
    StorageSettings,
    Viewport,
    dump_pages,
)

__all__ = [
    "PLATFORMS",
    "BundleSettings",
    "CaptureSettings",
    "PageEntry",
    "Register",
    "S3Settings",
    "ScheduleSettings",
    "StorageSettings",
    "Viewport",
    "dump_pages",
    "is_private_host",
    "load_register",
]
