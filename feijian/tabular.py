"""Every file a person opens in Excel (xlsx workbooks and CSV) is written here, and only here.

Claims exports are not ours: a facility named `=cmd|' /C calc'!A0` or a fee line whose count is
`=HYPERLINK("http://…","…")` would run as a formula in Excel if written as it came. Following
OWASP's CSV-injection guidance, a text cell starting with `=`, `+`, `-`, `@`, tab, carriage return
(or NUL) gets a leading single quote, in CSV and xlsx alike (so the neutralised text survives a
copy or a save-as-CSV); Excel shows the quote, the rest reads as it came. Text that is a plain
number ("-12.5", a refund's raw amount in the quarantine) is left alone: Excel reads it as the number
it is, never as a formula. Real numbers, dates and booleans keep their types.

Workbooks are created in one place (`write_xlsx`), with xlsxwriter's `strings_to_formulas`,
`strings_to_urls` and `strings_to_numbers` off, and every text cell goes through `write_string`:
nothing written here can become a formula or a link.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import numbers
import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")
QUOTE = "'"
# the same pattern serves Python's re (one cell) and RE2 (pyarrow, whole columns)
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_NUMBER_RE = re.compile(_NUMBER)
BOM = "\ufeff".encode()  # Excel reads a CSV with a BOM as UTF-8 (Chinese shows); without it, as the ANSI codepage
MAX_WIDTH, MIN_WIDTH = 60, 8


def safe_text(text: str) -> str:
    """The text as a spreadsheet must receive it: quoted if it would start a formula."""
    if text.startswith(FORMULA_PREFIXES) and _NUMBER_RE.fullmatch(text) is None:
        return QUOTE + text
    return text


def safe_strings(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """`safe_text` over a whole Arrow string column (vectorised: a quarantine can hold millions of rows)."""
    import pyarrow.compute as pc

    if pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    starts = pc.is_in(pc.utf8_slice_codeunits(array, 0, 1), value_set=pa.array(FORMULA_PREFIXES, array.type))
    if not pc.any(starts).as_py():  # the usual column: nothing to quote, nothing to copy
        return array
    danger = pc.and_(starts, pc.invert(pc.match_substring_regex(array, _NUMBER)))
    quoted = pc.binary_join_element_wise(pa.scalar(QUOTE, array.type), array, pa.scalar("", array.type))
    return pc.if_else(pc.fill_null(danger, False), quoted, array)


def safe_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Every text column (and the column names) neutralised; other columns untouched."""
    cols = []
    for col in batch.columns:
        if pa.types.is_dictionary(col.type):  # a categorical column: its values are what the file shows
            col = col.cast(col.type.value_type)
        text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type)
        cols.append(safe_strings(col) if text else col)
    return pa.RecordBatch.from_arrays(cols, names=[safe_text(str(n)) for n in batch.schema.names])


# --- CSV --------------------------------------------------------------------------------------------
Rows = pd.DataFrame | pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]


def _write_csv_to(fh: BinaryIO, data: Rows, schema: pa.Schema | None) -> None:
    import pyarrow.csv as pacsv

    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, pa.Table | pa.RecordBatchReader):
        schema = data.schema
    batches = data.to_batches() if isinstance(data, pa.Table) else data
    fh.write(BOM)
    writer = None
    for batch in batches:
        safe = safe_batch(batch)
        writer = writer or pacsv.CSVWriter(fh, safe.schema)
        writer.write_batch(safe)
    if writer is None and schema is not None:  # no rows: the header still
        writer = pacsv.CSVWriter(fh, safe_batch(pa.RecordBatch.from_pylist([], schema=schema)).schema)
    if writer is not None:
        writer.close()


def write_csv(data: Rows, out: Path, *, schema: pa.Schema | None = None) -> Path:
    """A CSV for Excel: UTF-8 with a BOM, a header row, text quoted and neutralised, numbers bare.

    `data` may be a DataFrame, an Arrow table, or a stream of record batches (a DuckDB result's
    `to_arrow_reader()`), written batch by batch; `schema` gives the header of an empty stream. The
    file appears whole or not at all.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            _write_csv_to(fh, data, schema)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def csv_text(data: Rows, *, bom: bool = True) -> str:
    """What `write_csv` would write, as text: for an artifact logged as text (MLflow), or standard output
    (`bom=False`: a pipe's reader does not expect one)."""
    buf = io.BytesIO()
    _write_csv_to(buf, data, None)
    text = buf.getvalue().decode("utf-8")
    return text if bom else text.removeprefix("\ufeff")


# --- xlsx -------------------------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_) and math.isnan(float(value))


# A numeric column's cell format, from how its Chinese header ends: amounts in yuan with thousands
# separators and two decimals, probabilities and shares as percentages, counts as integers. Declared once
# here, so every workbook reads alike; a header matching none keeps Excel's General format.
NUMBER_FORMATS = (
    (("（元）", "金额"), "#,##0.00"),
    (("概率", "占比", "（%）"), "0.0%"),
    (("条数", "人次", "数量", "序号", "名额", "机构数", "医师数"), "#,##0"),
)


def number_format(header: str) -> str | None:
    """The cell format of a numeric column under `header` (see NUMBER_FORMATS), None for General."""
    for endings, fmt in NUMBER_FORMATS:
        if str(header).endswith(endings):
            return fmt
    return None


def text_width(value: object) -> int:
    """Columns a value needs in Excel: a CJK character takes two, others one."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def _write_cell(ws: Any, r: int, c: int, value: Any, fmt: dict[str, Any], num: Any = None) -> None:
    """One cell by its Python type, never through xlsxwriter's guessing `write`; `num`: a number's format."""
    if _missing(value):
        ws.write_blank(r, c, None)
    elif isinstance(value, bool | np.bool_):
        ws.write_boolean(r, c, value)
    elif isinstance(value, numbers.Number) and not isinstance(value, complex):
        v = float(value)  # type: ignore[arg-type]
        if math.isfinite(v):
            ws.write_number(r, c, v, num)
        else:
            ws.write_string(r, c, str(v))
    elif isinstance(value, dt.datetime):  # pd.Timestamp is one
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        ws.write_datetime(r, c, value.replace(tzinfo=None), fmt["datetime"])
    elif isinstance(value, dt.date):
        ws.write_datetime(r, c, dt.datetime(value.year, value.month, value.day), fmt["date"])
    else:
        ws.write_string(r, c, safe_text(str(value)), fmt["text"])


def write_xlsx(sheets: dict[str, pd.DataFrame], out: Path) -> Path:
    """One sheet per frame: a bold wrapped header row, frozen, with an autofilter; columns sized to their
    content (CJK counted double, long text wrapped); numbers formatted by their header (NUMBER_FORMATS);
    cells written by type, text neutralised. The only place feijian creates a workbook."""
    import xlsxwriter

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
               "remove_timezone": True}
    book = xlsxwriter.Workbook(str(out), options)
    try:
        header = book.add_format({"bold": True, "bg_color": "#F3F3F3", "border": 1, "text_wrap": True,
                                  "valign": "top"})
        fmt = {"datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
               "date": book.add_format({"num_format": "yyyy-mm-dd"}),
               "text": book.add_format({"text_wrap": True, "valign": "top"})}
        numbers_ = {f: book.add_format({"num_format": f, "valign": "top"}) for _, f in NUMBER_FORMATS}
        for name, frame in sheets.items():
            ws = book.add_worksheet(name[:31])
            ws.freeze_panes(1, 0)
            nums = []
            for j, col in enumerate(frame.columns):
                ws.write_string(0, j, safe_text(str(col)), header)
                width = max([min(text_width(col), 24)] + [text_width(v) for v in frame[col].head(200)])
                ws.set_column(j, j, min(MAX_WIDTH, max(MIN_WIDTH, width + 2)))
                f = number_format(str(col))
                nums.append(numbers_[f] if f else None)
            if len(frame.columns):
                ws.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
            for i, row in enumerate(frame.itertuples(index=False, name=None), start=1):
                for j, value in enumerate(row):
                    _write_cell(ws, i, j, value, fmt, nums[j])
    finally:
        book.close()
    return out
