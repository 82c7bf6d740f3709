"""A read-only browser UI over the archive's catalog (``sangrah browse``); see :mod:`.app`."""

from archive.web.app import create_app

__all__ = ["create_app"]
