"""Files: stable file ids (and later versions and output stripping)."""

from .fileids import FileIdStore

__all__ = ["FileIdStore"]
