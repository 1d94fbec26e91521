"""Ingest: read a claims export, validate it against the input contract, pseudonymise, quarantine the
rejected rows and load the rest into the workspace (`feijian ingest`).

The entry is `ingest` and the pseudonym key's helpers; `features.ingest.cli` holds the command.
Everything else here (sources, csv, columns, validate, validate_refs, quarantine, report, write, tmp,
adapters) is the stage's own.
"""

from features.ingest.pipeline import ingest
from features.ingest.pseudonym import demo_key_path, ensure_demo_key, key_id, load_key, new_key

__all__ = ["demo_key_path", "ensure_demo_key", "ingest", "key_id", "load_key", "new_key"]
