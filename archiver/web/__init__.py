"""The web page for communicators and the registrar (`archiver serve`)."""

from archiver.web.app import ROUTE_ROLES, create_app

__all__ = ["ROUTE_ROLES", "create_app"]
