"""Every data file inside a package is declared in pyproject's package-data, so the wheel carries it.

scripts/wheel-check.sh finds a missing file too, but only after the whole suite; this finds it in a second.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _packages() -> list[str]:
    return [p.rstrip("*") for p in SETUPTOOLS["packages"]["find"]["include"]]


def _declared(path: Path) -> bool:
    """Whether some package-data entry (package → globs relative to that package's folder) covers path."""
    for package, globs in SETUPTOOLS["package-data"].items():
        base = ROOT / package.replace(".", "/")
        if base not in path.parents:
            continue
        rel = path.relative_to(base).as_posix()
        if any(fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs):
            return True
    return False


def _data_files() -> list[Path]:
    out = []
    for package in _packages():
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
                out.append(path)
    return out


def test_every_data_file_in_a_package_is_declared_for_the_wheel() -> None:
    files = _data_files()
    assert any(p.suffix == ".sql" for p in files)  # the walk sees the SQL it guards
    missing = [p.relative_to(ROOT).as_posix() for p in files if not _declared(p)]
    assert missing == [], f"add these to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def test_the_check_itself_sees_an_undeclared_file(tmp_path: Path) -> None:
    # a file in a package folder no entry covers is reported (the check can fail)
    assert not _declared(ROOT / "features" / "rings" / "sql" / "x.parquet")
    assert not _declared(ROOT / "features" / "elsewhere" / "sql" / "x.sql")
    assert _declared(ROOT / "features" / "rings" / "sql" / "edges.sql")
