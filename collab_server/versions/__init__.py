"""Versions of notebooks: canonical form, the content-addressed store, retention, when to cut a
version from a live document, and cell-level diffs in nbdime's format.

Nothing here knows about rooms or the REST layer; those plug in on top.
"""
