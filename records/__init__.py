"""The records a bureau keeps between rounds: saved rounds and their picks, the cases they open, recorded
findings.

Below training and serving, above the shared layer: serving writes them (the service, `feijian plan
--save`), training reads them back (`read_findings`, `read_picks`) through the input contract's
columns, and neither imports the other. `open_records` opens the database with these tables.
"""

from __future__ import annotations

from pathlib import Path

from feijian.settings import db_url_env, state_dir
from records.cases import (
    OUTSIDE,
    STATES,
    TRANSITIONS,
    Case,
    CaseEvent,
    check_move,
    get_case,
    list_cases,
    move,
    open_cases,
    open_outside_case,
)
from records.db import Base, Database, create_private, default_url
from records.findings import CONTRACT_COLUMNS, Finding, FindingPick, FindingPoints, read_findings, union_findings
from records.rounds import SELECTION_OF_PICK, Round, RoundPick, get_pick, get_round, list_rounds, read_picks, save_round
from records.worklist import VERDICTS, CaseLine, checked_lines, keep_lines, lines, mark, rule_quality, summary


def open_records(workspace: Path, url: str | None = None) -> Database:
    """The database at `url` (default: records.db.default_url), every registered table created when missing."""
    if url is None and not db_url_env():
        state_dir(workspace).mkdir(parents=True, exist_ok=True)
    url = url or default_url(workspace)
    create_private(url)
    return Database(url).create_all()


__all__ = [
    "CONTRACT_COLUMNS",
    "OUTSIDE",
    "SELECTION_OF_PICK",
    "STATES",
    "TRANSITIONS",
    "VERDICTS",
    "Base",
    "Case",
    "CaseEvent",
    "CaseLine",
    "Database",
    "Finding",
    "FindingPick",
    "FindingPoints",
    "Round",
    "RoundPick",
    "check_move",
    "checked_lines",
    "get_case",
    "get_pick",
    "get_round",
    "keep_lines",
    "lines",
    "list_cases",
    "list_rounds",
    "mark",
    "move",
    "open_cases",
    "open_outside_case",
    "open_records",
    "read_findings",
    "read_picks",
    "rule_quality",
    "save_round",
    "summary",
    "union_findings",
]
