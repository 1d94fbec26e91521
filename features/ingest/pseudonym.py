"""Keyed pseudonyms for personal identifiers (psn_no, certno).

Analysis needs to link a person's visits, never to know who they are (PIPL). A keyed hash
(HMAC-SHA256, hex) keeps linkage stable across exports while someone without the key cannot
rebuild the mapping by hashing every plausible ID. The key is read by name from the environment
(or a file the environment names, or the demo key inside the workspace) and never written anywhere
but that file; the manifest records only `key_id`, a short hash that tells two keys apart.

Ingest hashes the *distinct* values in Python and joins the mapping back in SQL: a province has a
few million people but tens of millions of fee lines, and a per-row UDF would cross the
Python boundary once per line.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from features.ingest.validate import trimmed_sql
from feijian.errors import ConfigError
from feijian.settings import ENV_PSEUDONYM_KEY, ENV_PSEUDONYM_KEY_FILE, Workspace

DEMO_KEY_NAME = "pseudonym.key"
MIN_KEY_BYTES = 16


def demo_key_path(workspace: Path) -> Path:
    return Workspace(workspace).secrets / DEMO_KEY_NAME


def new_key(path: Path) -> Path:
    """Write a new 256-bit key (`secrets`, hex) to `path` with mode 0600; never overwrite one.

    The key is what links a person's visits across exports: pseudonyms made with another key do not
    match the earlier ones. Keep it (and a backup) for as long as the workspace's history is used.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"{path} already holds a key; it is not replaced (pseudonyms made with it would no longer link "
            "to new ones). Remove it yourself only if no workspace uses it, or give another --file."
        ) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_bytes(32).hex() + "\n")
    return path


def ensure_demo_key(workspace: Path) -> Path:
    """Create `<workspace>/.secrets/pseudonym.key` if absent (the demo's own key, see `new_key`)."""
    path = demo_key_path(workspace)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    return new_key(path)


def _read_key_file(path: Path, source: str) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the pseudonym key file {path} (from {source}): {exc}") from exc
    return key


def load_key(workspace: Path) -> bytes:
    """The pseudonym key: $FEIJIAN_PSEUDONYM_KEY, else the file $FEIJIAN_PSEUDONYM_KEY_FILE names,
    else `<workspace>/.secrets/pseudonym.key` when it exists."""
    env_key = os.environ.get(ENV_PSEUDONYM_KEY)
    if env_key:
        key, source = env_key.encode("utf-8"), f"${ENV_PSEUDONYM_KEY}"
    elif os.environ.get(ENV_PSEUDONYM_KEY_FILE):
        path = Path(os.environ[ENV_PSEUDONYM_KEY_FILE])
        key, source = _read_key_file(path, f"${ENV_PSEUDONYM_KEY_FILE}"), str(path)
    elif demo_key_path(workspace).exists():
        path = demo_key_path(workspace)
        key, source = _read_key_file(path, "the demo key"), str(path)
    else:
        raise ConfigError(
            "no pseudonym key: make one with `feijian key new` (it writes <workspace>/.secrets/pseudonym.key, "
            "or `--file PATH` and set $"
            + ENV_PSEUDONYM_KEY_FILE
            + "=PATH), or set $"
            + ENV_PSEUDONYM_KEY
            + " to the key itself; psn_no and certno are hashed with it on ingest."
        )
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"the pseudonym key from {source} is {len(key)} bytes; use at least {MIN_KEY_BYTES}")
    return key


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key (not reversible, not usable to hash IDs)."""
    return hashlib.sha256(b"feijian-pseudonym-key-id:" + key).hexdigest()[:12]


def pseudonymise(values: Iterable[str], key: bytes) -> list[str]:
    """HMAC-SHA256 hex digest of each value (UTF-8)."""
    digest = hmac.digest
    return [digest(key, v.encode("utf-8"), "sha256").hex() for v in values]


def pseudonym_table(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Table:
    """Mapping table (raw, pseudonym) for distinct, non-null `values`, to join in SQL."""
    raw = [v for v in values.to_pylist() if v is not None]
    return pa.table({"raw": pa.array(raw, pa.string()), "pseudonym": pa.array(pseudonymise(raw, key), pa.string())})


class Pseudonymiser:
    """Hashes identifier columns of Arrow data before it is written anywhere (CSV staging, quarantine).

    Values are trimmed exactly as the per-row checks trim them (validate.trimmed_sql, run by DuckDB on
    the batch's distinct values), so a padded ' P001' and 'P001' get one pseudonym whatever the file
    format; empty values stay empty (NULL). Each distinct value is hashed once per run (a cache), and
    only a batch's distinct values cross into Python: fee lines repeat a person many times.
    """

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._cache: dict[str, str] = {}
        self._con = duckdb.connect()

    def column(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        encoded = pc.dictionary_encode(arr)
        n = len(encoded.dictionary)
        self._con.register("psn_values", pa.table({"i": pa.array(range(n), pa.int64()), "v": encoded.dictionary}))
        plain = self._con.sql(f"SELECT {trimmed_sql('v')} AS v FROM psn_values ORDER BY i").fetchall()
        self._con.unregister("psn_values")
        cache, digest, key = self._cache, hmac.digest, self.key
        hashed = []
        for (v,) in plain:
            if v is None:
                hashed.append(None)
                continue
            h = cache.get(v)
            if h is None:
                h = cache[v] = digest(key, v.encode("utf-8"), "sha256").hex()
            hashed.append(h)
        return pc.take(pa.array(hashed, pa.string()), encoded.indices)

    def text(self, value: str) -> str:
        """The keyed hash of a whole text (a malformed line), to tell lines apart without keeping them."""
        return hmac.digest(self.key, value.encode("utf-8"), "sha256").hex()

    def close(self) -> None:
        self._con.close()
