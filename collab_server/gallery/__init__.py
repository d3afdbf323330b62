"""The gallery: search, tags, stars, views and runs, health and recommendations.

Everything lives in the server's SQLite database (FTS5 for search) and runs in the server
process: no search server, no nightly job. Modules:

* :mod:`.extract` — pure: title, description, text, language and packages of a notebook;
* :mod:`.query` — pure: the search language → a safe FTS5 MATCH expression and filters;
* :mod:`.schema` — the gallery's tables;
* :mod:`.index` — upserts, renames, removals and permission-aware search;
* :mod:`.activity` — tags, stars, views, runs and the execution log;
* :mod:`.health` — pure: nbgallery's health formula;
* :mod:`.recommend` — co-viewing, text similarity and group popularity;
* :mod:`.merge` — pure: what a change request changes, and applying it to a notebook that
  moved on since (a cell-level three-way merge);
* :mod:`.changes` — change requests' table and life (open → accepted | declined | cancelled);
  :mod:`.change_handlers` — their REST API.
"""

from .activity import Execution, GalleryActivity, normalize_tag
from .extract import NotebookFacts, extract
from .health import Health, compute_health, label_for
from .index import GalleryError, GalleryIndex, Readable, readable_clause
from .query import ParsedQuery, QueryError, parse_query
from .recommend import Recommendation, Recommender

__all__ = [
    "Execution",
    "GalleryActivity",
    "GalleryError",
    "GalleryIndex",
    "Health",
    "NotebookFacts",
    "ParsedQuery",
    "QueryError",
    "Readable",
    "Recommendation",
    "Recommender",
    "compute_health",
    "extract",
    "label_for",
    "normalize_tag",
    "parse_query",
    "readable_clause",
]
