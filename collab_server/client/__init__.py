"""Python access to the server's data (DESIGN section 13): notebooks, comments, executions,
versions, app runs and activity as pandas DataFrames, through the REST API, so every
permission holds.

    from collab_server.client import Client
    c = Client()                      # in a server kernel; else Client(url, token)
    c.notebooks()                     # path, title, owner, tags, stars, views, runs, health…
    c.notebook("team-a/report.ipynb") # an nbformat NotebookNode

Modules: :mod:`.transport` (configuration, the token, requests), :mod:`.errors` (the
exceptions), :mod:`.frames` (typed DataFrames; pandas imported only here, lazily),
:mod:`.analysis` (pure helpers over a notebook's cells), :mod:`.client` (:class:`Client`).
pandas comes with the ``client`` extra: ``pip install "collab-server[client]"``.
"""

from .analysis import code_sources, markdown_sources, packages, text, title
from .client import Client
from .errors import ClientError, Forbidden, NotFound, RunFailed, TokenRefused

__all__ = [
    "Client",
    "ClientError",
    "Forbidden",
    "NotFound",
    "RunFailed",
    "TokenRefused",
    "code_sources",
    "markdown_sources",
    "packages",
    "text",
    "title",
]
