"""The gate's HTTP face (FastAPI): app factory, routers per concern, auth dependencies."""

from aurora.api.app import create_app

__all__ = ["create_app"]
