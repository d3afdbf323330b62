"""Helpers for the test suite: a real server process and real clients."""

import sys

# jsonschema registers an optional IRI format checker when ``rfc3987_syntax`` is installed,
# and importing that builds 38 Lark grammars: about 1.7 s of CPU, more than all the unit tests
# together. No test validates an IRI in the test process (servers run in their own), so it
# goes without; jsonschema then leaves "iri" formats unchecked. (Imported by conftest.py
# before anything imports jsonschema.)
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
