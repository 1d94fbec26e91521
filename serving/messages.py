"""What a person reads when a request fails: Chinese, naming the field at fault and what is wrong.

Every error the service answers with is JSON `{"error": <English, for logs and scripts>, "message":
<Chinese, for the page>, "status": <code>}`. `message` comes from, in order: the error's own Chinese
(`FeijianError.zh`), the validation errors' fields and kinds (pydantic's `errors()`), or the status.
Field names are the contract's column labels (features/schema.py) and the request fields below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from features.schema import TABLES

# Request fields that are not contract columns (the contract's columns are named by their labels).
REQUEST_FIELDS_ZH = {
    "capacity": "检查名额",
    "regions": "地区",
    "types": "机构类型",
    "levels": "医院等级",
    "ownership": "所有制",
    "exclude_days": "排除近期已检查（天）",
    "clean_cooldown_days": "检查未发现问题的冷却期（天）",
    "region_caps": "地区名额上限",
    "exploration_share": "随机探索比例",
    "seed": "随机种子",
    "level": "名单层级",
    "on_terminated": "已解除协议机构的处理",
    "on_suspended": "已暂停协议机构的处理",
    "code": "机构或医师编号",
    "rule_id": "规则编号",
    "limit": "条数",
    "q": "搜索词",
    "round_id": "检查批次编号",
    "rank": "批次中的序号",
    "points": "医师记分",
    "note": "说明",
    "supersedes": "被替代的批次",
    "rows": "特征行",
    "fmt": "文件格式",
}
FIELDS_ZH: dict[str, str] = {
    **{c.name: c.label for t in reversed(list(TABLES.values())) for c in t.columns},
    **REQUEST_FIELDS_ZH,
}
STATUS_ZH = {
    400: "请求有误",
    401: "需要有效的访问令牌",
    403: "当前角色无权执行此操作",
    404: "找不到所请求的内容",
    405: "不支持的请求方式",
    413: "请求内容过大",
    422: "请求有误",
    500: "服务内部错误，请联系管理员",
    503: "服务尚未就绪，请稍后再试",
    504: "处理超时，请稍后再试",
}


def field_zh(loc: Iterable[Any]) -> str:
    """The Chinese name of the innermost named field of a pydantic error location ('' when none)."""
    names = [str(p) for p in loc if isinstance(p, str) and p not in ("body", "query", "path", "req", "finding")]
    if not names:
        return ""
    return FIELDS_ZH.get(names[-1], names[-1])


def _what(e: Mapping[str, Any]) -> str:
    kind, ctx = e.get("type", ""), e.get("ctx") or {}
    if kind == "missing":
        return "必须填写"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "不是可接受的字段"
    if kind in ("greater_than_equal", "greater_than"):
        return f"不能小于{'或等于' if kind == 'greater_than' else ''} {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"不能大于{'或等于' if kind == 'less_than' else ''} {ctx.get('le', ctx.get('lt'))}"
    if kind in ("string_too_short", "too_short"):
        return "不能为空" if ctx.get("min_length") in (None, 1) else f"至少 {ctx.get('min_length')} 项"
    if kind in ("string_too_long", "too_long"):
        return f"过长（最多 {ctx.get('max_length')} 个字符或项）"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "应为整数"
    if kind in ("float_parsing", "float_type"):
        return "应为数字"
    if kind.startswith("date") or kind.startswith("datetime"):
        return "应为日期（如 2025-01-31）"
    if kind in ("literal_error", "enum"):
        return f"应为以下之一：{ctx.get('expected', '')}"
    if kind in ("bool_parsing", "bool_type"):
        return "应为是或否"
    if kind == "value_error":
        return str(ctx.get("error", e.get("msg", "")))
    if kind in ("json_invalid", "model_type", "dict_type", "model_attributes_type"):
        return "请求内容不是有效的 JSON 对象"
    return "取值无效"


def validation_zh(errors: Iterable[Mapping[str, Any]]) -> str:
    """pydantic's errors as one Chinese sentence per field: `检查日期：必须填写；追回金额：不能小于 0`."""
    parts = []
    for e in errors:
        where = field_zh(e.get("loc", ()))
        what = _what(e)
        parts.append(f"{where}：{what}" if where else what)
    return "；".join(dict.fromkeys(parts)) or STATUS_ZH[400]


def message_zh(status: int, zh: str | None = None, detail: Any = None) -> str:
    """The Chinese message of an error response: its own, else from its validation detail, else its status."""
    if zh:
        return zh
    if isinstance(detail, list) and detail and all(isinstance(d, Mapping) for d in detail):
        return validation_zh(detail)
    return STATUS_ZH.get(status, f"请求失败（{status}）")
