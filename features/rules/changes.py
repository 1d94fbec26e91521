"""Rule changes as data: the rule base a workspace runs is the declared one (rules.yaml) with the
workspace's changes applied in order, each change a versioned record that is never edited.

A data scientist changes a rule from the evidence (rule quality, `feijian rules quality`):
`feijian rules set R-SL-01 tolerance=1 --reason "…"`, or `--disable` / `--enable`. The change is
appended to the workspace's `rules/changes.jsonl` (feijian.settings.LAYOUT), one JSON line each: seq,
rule_id, the parameters set (before and after), enabled, the reason, who, when, and the version it
makes. The version is the
declared one with the workspace's count of changes (`1.0.0+ws.3`); it is in every snapshot's meta and
fingerprint, so a changed rule makes a new snapshot on the next build, and the model trained on it
names it (MLflow, 模型信息). A change is checked by building the changed rule exactly as the library
loader does, so a parameter the kind does not have, or a value of the wrong type, is refused and
nothing is written.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from features.rules.base import Rule, load_rules, rules_version
from feijian.errors import ConfigError, InputError
from feijian.settings import Workspace


def changes_path(workspace: Path) -> Path:
    return Workspace(Path(workspace)).rule_changes


def read_changes(workspace: Path | None) -> list[dict[str, Any]]:
    """The workspace's rule changes in order (none without a workspace or a changes file)."""
    if workspace is None or not changes_path(workspace).exists():
        return []
    out = []
    path = changes_path(workspace)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: line {n} is not a JSON record ({exc.msg}); the file is append-only, "
                                  "restore it from the workspace's backup") from None
    return out


def _changed(rule: Rule, change: dict[str, Any]) -> Rule:
    params = {**rule.params, **change.get("params", {})}
    enabled = rule.enabled if change.get("enabled") is None else bool(change["enabled"])
    try:
        return dataclasses.replace(rule, params=params, enabled=enabled)  # validated as the loader does
    except (ValueError, ConfigError) as exc:
        raise InputError(f"rule {rule.id}: {exc}", zh=f"规则 {rule.id} 的参数调整无效：{exc}") from None


def apply_changes(rules: list[Rule], changes: list[dict[str, Any]]) -> list[Rule]:
    by_id = {r.id: r for r in rules}
    for c in changes:
        if c["rule_id"] not in by_id:
            raise ConfigError(f"rule change {c.get('seq')}: rule {c['rule_id']} is not in the rule library")
        by_id[c["rule_id"]] = _changed(by_id[c["rule_id"]], c)
    return [by_id[r.id] for r in rules]


@dataclass(frozen=True)
class RuleBase:
    """The rules a build runs, read once: their version (what people read) and a digest of every rule's
    declaration (what a snapshot's fingerprint takes, so an edited library or change file cannot collide)."""

    rules: list[Rule]
    version: str
    digest: str


def rule_base(workspace: Path | None, rules: list[Rule] | None = None) -> RuleBase:
    """The workspace's rule base (the library with its changes), or `rules` given by the caller (their
    version then says so: `+custom`)."""
    if rules is None:
        changes = read_changes(workspace)
        rules = apply_changes(load_rules(), changes)
        version = _version(len(changes))
    else:
        version = f"{rules_version()}+custom"
    text = json.dumps([dataclasses.asdict(r) for r in rules], ensure_ascii=False, sort_keys=True, default=str)
    return RuleBase(rules, version, hashlib.sha256(text.encode()).hexdigest())


def rules_at(workspace: Path | None, version: str | None) -> list[Rule]:
    """The rules a snapshot of `version` ran: the library with the workspace's first N changes (`+ws.N`)."""
    n = int(version.rsplit("+ws.", 1)[1]) if version and "+ws." in version else 0
    return apply_changes(load_rules(), read_changes(workspace)[:n])


def effective_rules(workspace: Path | None) -> list[Rule]:
    """The rule base the workspace runs: the library with the workspace's changes applied."""
    return apply_changes(load_rules(), read_changes(workspace))


def _version(n: int) -> str:
    """The library's version, with `+ws.N` after the workspace's N-th change."""
    return rules_version() + (f"+ws.{n}" if n else "")


def effective_version(workspace: Path | None) -> str:
    """The version of the rule base the workspace runs now."""
    return _version(len(read_changes(workspace)))


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """`name=value` pairs from the command line, values read as YAML scalars (1, 0.5, true, text)."""
    out: dict[str, Any] = {}
    for p in pairs:
        name, sep, value = p.partition("=")
        if not sep or not name.strip():
            raise InputError(f"{p!r}: give a parameter as name=value", zh=f"{p}：参数应写作 名称=值")
        out[name.strip()] = yaml.safe_load(value)
    return out


def record_change(workspace: Path, rule_id: str, params: dict[str, Any], enabled: bool | None, reason: str,
                  by: str, now: datetime | None = None) -> dict[str, Any]:
    """Check and append one change; returns its record (with the version it makes)."""
    if not reason.strip():
        raise InputError("a rule change needs its reason (--reason)", zh="调整规则须写明原因")
    if not params and enabled is None:
        raise InputError("nothing to change: give name=value parameters, --enable or --disable",
                         zh="未给出要调整的参数或启用状态")
    path = changes_path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # two changes at once get consecutive numbers
        changes = read_changes(workspace)
        current = {r.id: r for r in apply_changes(load_rules(), changes)}
        if rule_id not in current:
            raise InputError(f"unknown rule {rule_id!r}; rules: {', '.join(current)}", zh=f"规则 {rule_id} 不存在")
        rule = current[rule_id]
        unknown = sorted(set(params) - set(rule.params))
        if unknown:
            raise InputError(f"rule {rule_id} ({rule.kind}) has no parameter {', '.join(unknown)}; its parameters: "
                             f"{', '.join(rule.params) or 'none'}",
                             zh=f"规则 {rule_id} 没有参数 {'、'.join(unknown)}")
        _changed(rule, {"params": params, "enabled": enabled})
        seq = len(changes) + 1
        record = {"seq": seq, "rule_id": rule_id, "params": params, "before": {k: rule.params[k] for k in params},
                  "enabled": enabled, "was_enabled": rule.enabled, "reason": reason.strip(), "by": by,
                  "at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
                  "version": _version(seq)}
        f.seek(0, os.SEEK_END)
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return record


def summary_zh(change: dict[str, Any]) -> str:
    """What a change did, in the words a reader of the page expects."""
    parts = [f"{k}：{change['before'].get(k)} → {v}" for k, v in change.get("params", {}).items()]
    if change.get("enabled") is not None and change["enabled"] != change.get("was_enabled"):
        parts.append("启用" if change["enabled"] else "停用")
    return "；".join(parts) or "未改变"
