"""Comments: threads on notebooks, cells, text ranges and outputs, saved in nbformat metadata.

``service.py`` owns threads and their anchoring, ``anchors.py`` the sticky ranges,
``model.py`` the schema and input checks, ``handlers.py`` the REST API.
"""

from .service import CommentsService

__all__ = ["CommentsService"]
