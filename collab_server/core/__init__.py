"""What every concern shares; modules here import nothing from the rest of the package, so any
concern may use them.

* ``errors`` — the domain errors (``CollabError`` and its few subclasses), each with its HTTP
  status and websocket close code: the one table;
* ``http`` — that table applied to REST handlers (``CollabHandlerMixin``) and the JSON body
  helpers;
* ``db`` — the SQLite database: opening it, ``transaction``, ``write`` (retried off the event
  loop), ``migrate`` (schema versions per concern);
* ``datadir`` — where the data directory is and what lives in it (database, lock);
* ``paths`` — the one API-path normaliser and the one "a folder moved" rule;
* ``time`` — the one ISO-8601 UTC format;
* ``state`` — counters several processes would share, behind interfaces (``Revision``).
"""
