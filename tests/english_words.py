"""English code words in what a user reads: the values of the schema's code lists, rule kinds and
severities, pick kinds, and any snake_case identifier. A supervisor reads 举报线索, never `tip_off`.

`english_code_words(text)` returns the ones found, and any missing value printed as `nan` or `None`;
the page, report and workbook tests assert it is empty. Identifiers a user copies into another tool on
purpose (a model's registered name, an MLflow run id) are passed as `allowed`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from features import schema
from features.rules.base import SEVERITY_ZH
from features.rules.kinds import KINDS

CODE_LISTS = (schema.FIXMEDINS_TYPE, schema.OWNERSHIP, schema.SELECTION, schema.INSP_TYPE,
              schema.AGREEMENT_ACTION, schema.VIOLATION, SEVERITY_ZH,
              {"model": "", "exploration": "", "facility": "", "physician": ""})  # fmt: skip
CODE_WORDS = frozenset(
    k for table in CODE_LISTS for k in map(str, table) if k.isascii() and k[:1].isalpha()
) | frozenset(KINDS)
# A snake_case token not inside a longer token, path or address (a-z words joined by underscores).
SNAKE = re.compile(r"(?<![\w./:@-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w-])")
WORD = re.compile(r"(?<![\w./:@-])[a-z]{3,}(?![\w-])")
# A missing value printed as the language's name for it instead of "—" or an empty cell.
MISSING = re.compile(r"(?<![\w./:@-])(?:nan|NaN|None|NaT|null|undefined|<NA>)(?![\w-])")


def english_code_words(text: str, allowed: Iterable[str] = ()) -> set[str]:
    """The code words and snake_case identifiers in `text` (not in `allowed`)."""
    ok = set(allowed)
    found = set(SNAKE.findall(text)) | set(MISSING.findall(text)) | {w for w in WORD.findall(text) if w in CODE_WORDS}
    return {w for w in found if w not in ok}


def visible_html_text(html: str) -> str:
    """An HTML report's text as its reader sees it: no style or script blocks, no tags, entities kept."""
    html = re.sub(r"(?is)<(style|script)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<[^>]+>", " ", html)
    return html
