"""Apps: published notebooks run with parameters, immutably, under the caller's identity
(DESIGN section 12).

* :mod:`.schema` — the parameters cell → JSON Schema, the metadata override, checking input;
* :mod:`.notebook` — what a run reads of a notebook: setup cells, progress, the result, the
  report without code;
* :mod:`.openapi` — an app described as an HTTP API;
* :mod:`.store` — runs and schedules in SQLite;
* :mod:`.executor` — one kernel running one notebook (nbclient), with timeout and cancel;
* :mod:`.pool` — warm kernels per app, setup cells already run, parked, used once;
* :mod:`.schedules` — cron expressions and the loop that fires them;
* :mod:`.audience` — who may run an app as a whole audience (``restricted``, ``signed-in``);
* :mod:`.service` — the rules: permissions, limits, identity, what a run records;
* :mod:`.handlers` and :mod:`.wiring` — the REST API and the app's options.
"""
