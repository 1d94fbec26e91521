"""The as-of snapshot build: the point-in-time window over the workspace, the feature SQL (`sql/`),
peer statistics and the rule evidence, on DuckDB or Spark (`feijian features`).

The entry is the build, the window and the ways to find what it wrote; `features.snapshot.registry`
(the feature declarations) and `features.snapshot.peer` are public too, and `features.snapshot.cli`
holds the command. `window` declares what both engines read; `spark` is the Spark engine, which
reads those declarations and is chosen by `build.open_engine`.
"""

from features.snapshot.build import (
    ENGINES,
    build_snapshot,
    input_fingerprint,
    latest_snapshot,
    snapshot_identity,
    source_expr,
)
from features.snapshot.engine import open_window, parse_date
from features.snapshot.window import Window

__all__ = [
    "ENGINES",
    "Window",
    "build_snapshot",
    "input_fingerprint",
    "latest_snapshot",
    "open_window",
    "parse_date",
    "snapshot_identity",
    "source_expr",
]
