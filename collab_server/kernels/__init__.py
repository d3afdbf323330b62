"""Shared kernels: running a notebook's cells on the server and writing their outputs.

Leaf modules, each pure and small, plus the executor that drives a real kernel:

- ``outputs``: the outputs of one cell and how each iopub message changes them.
- ``coalesce``: output changes batched per cell on a clock.
- ``requests``: the bodies of ``POST /api/kernels/{kernel_id}/execute`` and staleness.
- ``queue``: the execution queue of one kernel.
- ``spool``: the full text of long streams, on disk and bounded.
- ``executor``: runs the queue on a kernel through jupyter_client, reports to a sink.
- ``log``: the execution log in SQLite.
- ``cells``: how outputs, counts and states land in a YNotebook document.
- ``registry``: the kernel processes this server started, so a crash leaves no orphan.
- ``room_api``: what kernels need of a notebook's room (a Protocol); ``room_adapter``: today's
  implementation over ``rooms.Room``.
- ``service``: one kernel per notebook: starting, running, state, limits, culling, recovery.
- ``handlers``: the REST routes (ours and jupyter_server's, taken over); ``lab``: JupyterLab's
  ``serverSideExecution``; ``wiring``: the ``CollabServer`` options and the app's wiring.
"""
