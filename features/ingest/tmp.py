"""A run's private temp folder, `<ws>/.tmp/<run_id>/`, and the removal of those of dead runs.

Staged CSV files and DuckDB's spill files live there. A run holds an exclusive `flock` on
`<ws>/.tmp/<run_id>.lock` for as long as it lives; the kernel drops the lock when the process dies,
however it dies (SIGKILL included). At the start of a run every other run's folder whose lock nobody
holds (or that has no lock file: written before locks existed) is removed, so a killed run leaves
nothing behind for long, and a run still going is never touched. Folders are 0700, so what a run
writes there is readable by its user only.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

PRIVATE_DIR = 0o700
LOCK_SUFFIX = ".lock"


@dataclass
class RunTmp:
    path: Path
    lock: Path
    fd: int

    def release(self) -> None:
        """Remove the folder, then the lock file, then let go of the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.lock.unlink(missing_ok=True)
        os.close(self.fd)


def _private_dir(path: Path) -> None:
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)


def _lock(path: Path) -> int:
    """An exclusive lock on `path` that is still `path` once held (another run may have removed it)."""
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def claim(workspace: Path, run_id: str) -> RunTmp:
    """Create and lock this run's temp folder (the lock first, so no cleaner sees a folder unlocked)."""
    root = workspace / ".tmp"
    _private_dir(root)
    lock = root / f"{run_id}{LOCK_SUFFIX}"
    fd = _lock(lock)
    path = root / run_id
    _private_dir(path)
    os.write(fd, f"{os.getpid()}\n".encode())
    return RunTmp(path=path, lock=lock, fd=fd)


def clean_dead(workspace: Path, keep: str) -> list[Path]:
    """Remove the temp folders (and lock files) of runs that are no longer running; returns them."""
    root = workspace / ".tmp"
    if not root.is_dir():
        return []
    removed = []
    for entry in sorted(root.iterdir()):
        name = entry.name.removesuffix(LOCK_SUFFIX)
        if name == keep or entry.name.startswith("."):
            continue
        lock = root / f"{name}{LOCK_SUFFIX}"
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            fd = None  # no lock file: a run from before locks, or one whose cleanup got this far
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # alive
        folder = root / name
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink()
            removed.append(folder)
        if fd is not None:
            lock.unlink(missing_ok=True)
            os.close(fd)
    return removed
