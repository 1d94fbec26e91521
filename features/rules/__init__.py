"""The rule base: rules as data (`rules.yaml`), one SQL file per kind (`sql/`), claim-level evidence.

The entry is the rule type and its loading and evaluation; `features.rules.kinds` (what each kind
hits, its parameters and its reason theme) is public too, and `features.rules.cli` holds the
`feijian rules` commands. `render` (parameters and templates into SQL) is the stage's own.
"""

from features.rules.base import EVIDENCE_COLUMNS, SEVERITY_ZH, Rule, evaluate_rules, load_rules, rules_version

__all__ = ["EVIDENCE_COLUMNS", "SEVERITY_ZH", "Rule", "evaluate_rules", "load_rules", "rules_version"]
