"""Stage one CSV file as a text-only Parquet file, personal identifiers already hashed.

Arrow streams the file once: it transcodes GBK, reports lines with the wrong number of fields (a file
cut mid-row, an unquoted comma) with their numbers, and never guesses a type, so '01' stays '01'. What
is written to `<ws>/.tmp/<run>/staging/` (mode 0600, in a 0700 folder) never holds a raw identifier:
the identifier columns of every batch are pseudonymised before the batch is written, and a malformed
line of a table with identifiers is kept only as its number, reason and keyed hash, because its
fields may have shifted (a certno in the facility column).

A file cut inside its last line is accepted by every CSV parser with the shortened value; it is
recognised here by its end: no final line break, or a quote opened and never closed, so that line
is quarantined with the reason instead.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.ingest.pseudonym import Pseudonymiser

if TYPE_CHECKING:
    from features.ingest.sources import SourceFile

SNIFF_BYTES = 1 << 20
TAIL_BYTES = 1 << 16
PRIVATE_FILE = 0o600


def check_encoding(path: Path, encoding: str) -> str | None:
    """Decode the first megabyte; a GBK file read as UTF-8 fails here with a useful message."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        hint = " — it looks like GBK: rerun with --encoding gbk (or encoding = \"gbk\" in the adapter)" \
            if encoding.lower().replace("-", "") in ("utf8", "utf8sig") else ""
        return f"not valid {encoding} (byte 0x{head[exc.start]:02x} at offset {exc.start}){hint}"
    return None


def _tail(path: Path, size: int) -> tuple[bool, bytes]:
    """Whether the file ends with a line break, and its last line (without the break)."""
    with path.open("rb") as fh:
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read()
    ends = tail.endswith((b"\n", b"\r"))
    body = tail.rstrip(b"\r\n")
    return ends, body[max(body.rfind(b"\n"), body.rfind(b"\r")) + 1:]


def _safe_message(exc: Exception) -> str:
    """Arrow's parse error without the line text it quotes (which may hold identifiers)."""
    return re.sub(r"(Expected \d+ columns, got \d+):.*", r"\1", str(exc), flags=re.S)


def _cut_reason(ends_with_break: bool, last_line: bytes, last_values: list[str | None]) -> str | None:
    if not ends_with_break:
        if last_line.count(b'"') % 2:
            return ("the file ends inside a quoted value (an unterminated quote and no final line break): it was "
                    "probably cut short in this line; re-export the file")
        return ("the file does not end with a line break, so this last line may be cut short; re-export the "
                "file (or add the final line break if the line is complete)")
    if any(v is not None and v.endswith(("\n", "\r")) for v in last_values):
        return ("an unterminated quote runs from this line to the end of the file: the file was probably cut "
                "short; re-export it")
    return None


def stage_csv(f: SourceFile, encoding: str, staging: Path, pre_rejects: list[dict[str, object]],
              secret: set[str], hasher: Pseudonymiser, max_rows: int | None = None) -> Path | None:
    """Stream one CSV into a text-only Parquet with _fid/_row; None when the file is rejected whole.

    `secret` names the export columns to pseudonymise. Sets f.rows, f.columns, f.issue/f.fatal for a
    file-level problem, and f.row_errs for a last line cut short. `max_rows`: stage only about the
    first that many rows (a sample: the file's end is not looked at).
    """
    if f.size == 0:
        f.issue, f.fatal = "0 bytes, not even a header line: the file may have been cut; re-export it", True
        return None
    problem = check_encoding(f.path, encoding)
    if problem:
        f.issue, f.fatal = problem, True
        return None
    py_encoding = "utf-8-sig" if encoding.lower().replace("-", "") in ("utf8", "utf8sig") else encoding
    with f.path.open("r", encoding=py_encoding, newline="") as fh:
        header = next(csv.reader(io.StringIO(fh.readline())), [])
    header = [h.strip() for h in header]
    f.columns = header
    if not header or header == [""]:
        f.issue, f.fatal = "the first line is blank, expected the header line", True
        return None
    bad: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.number or -1, row.text))
        return "skip"

    out = staging / f"csv-{f.fid}.parquet"
    types = {h: pa.string() for h in header}
    writer: pq.ParquetWriter | None = None
    sink = os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb")
    line, bad_i = 2, 0
    last: tuple[int, list[str | None]] | None = None  # the last good row: line number, raw values
    try:
        reader = pacsv.open_csv(
            f.path,
            read_options=pacsv.ReadOptions(encoding=py_encoding if py_encoding != "utf-8-sig" else "utf8",
                                           column_names=header, skip_rows=1, use_threads=False,
                                           block_size=(1 << 20) if max_rows else (16 << 20)),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False),
        )
        for batch in reader:
            if batch.num_rows == 0:
                continue
            rows = []
            for _ in range(batch.num_rows):  # line numbers of good rows skip the malformed ones
                while bad_i < len(bad) and bad[bad_i][0] == line:
                    bad_i, line = bad_i + 1, line + 1
                rows.append(line)
                line += 1
            last = (rows[-1], [c[batch.num_rows - 1].as_py() for c in batch.columns])
            tbl = pa.Table.from_batches([batch])
            for i, name in enumerate(tbl.column_names):
                if name in secret:
                    tbl = tbl.set_column(i, name, hasher.column(tbl.column(i)))
            tbl = tbl.append_column("_row", pa.array(rows, pa.int64()))
            tbl = tbl.append_column("_fid", pa.array([f.fid] * batch.num_rows, pa.int64()))
            if writer is None:
                writer = pq.ParquetWriter(sink, tbl.schema)
            writer.write_table(tbl)
            f.rows += batch.num_rows
            if max_rows is not None and f.rows >= max_rows:
                break
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if writer is not None:
            writer.close()
        sink.close()
        out.unlink(missing_ok=True)
        f.rows = 0
        hint = "; if it is GBK, rerun with --encoding gbk" if "utf" in str(exc).lower() else ""
        f.issue, f.fatal = f"cannot parse CSV: {_safe_message(exc)}{hint}", True
        return None
    if writer is not None:
        writer.close()
    sink.close()
    if max_rows is not None and f.rows >= max_rows:  # a sample: the file's end was not read
        ends_with_break, last_line, last = True, b"", None
    else:
        ends_with_break, last_line = _tail(f.path, f.size)
    last_bad = bad[-1][0] if bad else -1
    if last is not None and last[0] > last_bad:
        cut = _cut_reason(ends_with_break, last_line, last[1])
        if cut:
            ends = [h for h, v in zip(header, last[1], strict=False) if v is not None and v.endswith(("\n", "\r"))]
            f.row_errs[last[0]] = ((ends or header)[-1], cut)
    for number, text in bad:
        values = next(csv.reader([text]), [])
        reason = (f"line has {len(values)} fields, the header has {len(header)}: the file may be truncated or a "
                  "value holds an unquoted comma")
        if number == last_bad and (last is None or last[0] < last_bad):
            cut = _cut_reason(ends_with_break, last_line, [text])
            reason += f"; {cut}" if cut else ""
        value: str = text
        if secret:  # the fields may have shifted: any of them may be an identifier
            value = f"line not kept (it may hold personal identifiers); keyed hash {hasher.text(text)[:16]}"
        pre_rejects.append({"_fid": f.fid, "_row": number, "_field": None, "_value": value, "_reason": reason})
    f.rows += len(bad)
    if f.rows == 0:
        out.unlink(missing_ok=True)
        f.issue, f.fatal, f.empty = "empty file (header only, no rows)", True, True
        return None
    if writer is None:
        out.unlink(missing_ok=True)
        return None
    return out
