"""Collusion rings (医患共谋, 出借医保卡, 回流药): facilities that share insured persons' cards or drug
boxes, found point-in-time in the window and handed to the snapshot as targets of their own.

The graph is built from the window the features read (staging's `stg_visit` and `win_fee`, nothing on
or after as_of), in `sql/edges.sql`: facility pairs linked by cards seen at both on the same or the
next day, less the pairs an ordinary pattern explains, and by trace codes settled at both. The
communities of that graph (Leiden, `detect.py`) with at least two facilities are the rings; each
carries its members (facilities, the physicians who billed most of the shared cards' visits), its
evidence (the edges and the visits to pull) and its features (`RING_FEATURES`). Each member facility
gets the ring's features among its own (the `rings` family of the registry).

Entry: `detect_rings(con, params)` → `Rings`; `ring_params()`, the thresholds the SQL reads.
"""

from __future__ import annotations

from features.rings.detect import RING_FEATURES, RING_FILES, Rings, detect_rings, ring_id, ring_params

__all__ = ["RING_FEATURES", "RING_FILES", "Rings", "detect_rings", "ring_id", "ring_params"]
