"""The input contract (DESIGN.md), declared once.

Every table the pipeline reads is a `Table` of `Column`s with national-platform field names and code
lists. The simulator writes these tables, ingest validates against them, the feature SQL reads the
columns named here. Change a column here and every stage sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "code", "int", "float", "date", "timestamp", "bool"]
# The SQL type a column of each type is read and written as (ingest's writer, the feature build).
SQL_TYPES: dict[ColumnType, str] = {
    "string": "VARCHAR",
    "code": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "bool": "BOOLEAN",
}

# --- code lists (national platform; provinces' variants are mapped by adapters, never guessed) ---
MED_TYPE = {
    "11": "普通门诊",
    "13": "急诊",
    "14": "门诊慢特病",
    "21": "普通住院",
    "28": "日间手术",
    "41": "定点药店购药",
    "51": "生育门诊",
    "52": "生育住院",
}
# Inpatient stays: what the feature SQL counts as an admission.
INPATIENT_MED_TYPES = ("21", "52")
INSUTYPE = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}
GEND = {"1": "男", "2": "女", "0": "未知", "9": "未说明"}
LIST_TYPE = {"101": "西药中成药", "102": "中药饮片", "201": "医疗服务项目", "301": "医用耗材"}
MED_CHRGITM_TYPE = {
    "01": "床位费",
    "02": "诊察费",
    "03": "检查费",
    "04": "化验费",
    "05": "治疗费",
    "06": "手术费",
    "07": "护理费",
    "08": "卫生材料费",
    "09": "西药费",
    "10": "中药饮片费",
    "11": "中成药费",
    "12": "一般诊疗费",
    "13": "挂号费",
    "14": "其他费",
}
CHRGITM_LV = {"01": "甲类", "02": "乙类", "03": "丙类（自费）"}
FIXMEDINS_TYPE = {
    "general": "综合医院",
    "tcm": "中医医院",
    "maternal_child": "妇幼保健院",
    "specialty": "专科医院",
    "primary": "基层医疗卫生机构",
    "clinic": "诊所",
    "pharmacy": "定点零售药店",
}
# Facility types without beds: no admissions, stays or bed-days, so inpatient features mean nothing there.
NO_INPATIENT_TYPES = ("clinic", "pharmacy")
# hosp_lv follows the platform's 11-value list; `HOSP_TIER` folds it into the tier peers share.
HOSP_LV = {
    "01": "三级特等",
    "02": "三级甲等",
    "03": "三级乙等",
    "04": "三级丙等",
    "05": "二级甲等",
    "06": "二级乙等",
    "07": "二级丙等",
    "08": "一级甲等",
    "09": "一级乙等",
    "10": "一级丙等",
    "11": "未定级",
}
# One fee line or settlement of ten billion yuan or more is a data error (an identifier pasted into an
# amount column, a unit in fen read as yuan twice); the feature SQL sums amounts as DECIMAL(18, 4),
# which holds up to 1e14, so such a value is quarantined at ingest rather than stopping a later build.
MAX_AMOUNT = 1e10
MAX_COUNT = 1e7
HOSP_TIER = {"01": 3, "02": 3, "03": 3, "04": 3, "05": 2, "06": 2, "07": 2, "08": 1, "09": 1, "10": 1, "11": 0}
HOSP_TIER_ZH = {3: "三级", 2: "二级", 1: "一级", 0: "未定级"}
OWNERSHIP = {"public": "公立", "private": "民营"}
REFD_SETL_FLAG = {"0": "正常结算", "1": "退费"}
SELECTION = {"random": "随机抽查", "targeted": "指标筛查", "tip_off": "举报线索"}
INSP_TYPE = {"routine": "日常检查", "targeted": "专项检查", "flight": "飞行检查"}
AGREEMENT_ACTION = {
    "none": "无",
    "interview": "约谈",
    "warning": "责令整改",
    "suspend": "暂停医保服务协议",
    "terminate": "解除医保服务协议",
}
# Violation codes used in findings (`violation_types` is a ';'-joined list of these).
VIOLATION = {
    "split_admission": "分解住院",
    "phantom_stay": "挂床住院/虚假住院",
    "low_threshold_admission": "低标准入院",
    "over_testing": "过度检查",
    "repeat_charge": "重复收费",
    "split_charge": "分解收费",
    "over_price": "超标准收费",
    "item_swap": "串换项目",
    "sex_restricted": "限性别项目违规",
    "age_restricted": "限年龄项目违规",
    "over_prescription": "超量开药",
    "card_misuse": "冒名就医/出借医保卡",
    "trace_resale": "追溯码重复结算（倒卖药品）",
    "upcoding": "高套病组",
    "fabricated": "虚构医药服务",
    "ring": "医患串通/团伙套取医保基金",
    "minor": "一般管理性问题",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    label: str  # Chinese label, for error messages and reports
    required: bool = True  # the column must exist in the export; an optional one absent gets `default`
    nullable: bool = False  # a value may be empty
    codes: tuple[str, ...] | None = None  # accepted codes for type "code"
    min_value: float | None = None
    max_abs: float | None = None  # |value| above this is implausible (and would overflow exact sums)
    pseudonymise: bool = False  # keyed hash on ingest (personal identifiers)
    references: tuple[str, str] | None = None  # (table, column) the value must exist in
    no_future: bool = False  # a date/time after the export's end is rejected
    at_most: str | None = None  # another numeric column of the row this value may not exceed (+0.01)
    default: str | None = None  # an optional column's value when the export lacks it (None: NULL)

    def __post_init__(self) -> None:
        if not self.required and not self.nullable and self.default is None:
            raise ValueError(f"{self.name}: an optional column must be nullable or declare a default")


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str | None = None  # partition key: workspace/raw/<table>/month=YYYY-MM/
    kind: Literal["reference", "event", "label"] = "event"
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}; columns: {', '.join(self.column_names)}")


# A code list's labels, by its codes: what `code_labels` reads to name a code or suggest a mapping.
_LABELS: dict[tuple[str, ...], dict[str, str]] = {}


def _codes(d: dict[str, str]) -> tuple[str, ...]:
    _LABELS[tuple(d)] = d
    return tuple(d)


def code_labels(col: Column) -> dict[str, str]:
    """The Chinese label of each of a code column's codes ({} for a list without labels)."""
    return dict(_LABELS.get(col.codes or (), {}))


FIXMEDINS = Table(
    name="fixmedins",
    label="定点医药机构",
    kind="reference",
    key=("fixmedins_code",),
    columns=(
        Column("fixmedins_code", "string", "定点医药机构编号"),
        Column("fixmedins_name", "string", "机构名称"),
        Column("fixmedins_type", "code", "机构类型", codes=_codes(FIXMEDINS_TYPE)),
        Column("hosp_lv", "code", "医院等级", codes=_codes(HOSP_LV)),
        Column("ownership", "code", "所有制", codes=_codes(OWNERSHIP)),
        Column("admdvs", "string", "医保区划"),
        Column("open_beds", "int", "开放床位数", min_value=0),
        Column("begndate", "date", "定点开始日期", no_future=True),
    ),
)

# The bureau's region code table (医保区划代码表): the name shown wherever a region is. Optional: an
# export without it shows region codes; a facility's region need not be listed (the code is the fallback).
ADMDVS = Table(
    name="admdvs",
    label="医保区划",
    kind="reference",
    key=("admdvs",),
    columns=(
        Column("admdvs", "string", "医保区划"),
        Column("admdvs_name", "string", "医保区划名称"),
    ),
)

DR_INFO = Table(
    name="dr_info",
    label="医保医师",
    kind="reference",
    key=("dr_code",),
    columns=(
        Column("dr_code", "string", "医保医师代码"),
        Column("fixmedins_code", "string", "定点医药机构编号", references=("fixmedins", "fixmedins_code")),
        Column("dept", "string", "科室"),
        Column("pro_tech_duty", "string", "专业技术职务", nullable=True),
        Column("begndate", "date", "执业开始日期", no_future=True),
    ),
)

CATALOG = Table(
    name="catalog",
    label="医保目录（知识库）",
    kind="reference",
    key=("med_list_codg",),
    description="The knowledge base: prices, caps and the restrictions the rules read.",
    columns=(
        Column("med_list_codg", "string", "医保目录编码"),
        Column("name", "string", "名称"),
        Column("list_type", "code", "目录类别", codes=_codes(LIST_TYPE)),
        Column("med_chrgitm_type", "code", "医疗收费项目类别", codes=_codes(MED_CHRGITM_TYPE)),
        Column("chrgitm_lv", "code", "收费项目等级", codes=_codes(CHRGITM_LV)),
        Column("ref_price", "float", "参考价格", min_value=0),
        Column("price_cap", "float", "最高限价", nullable=True, min_value=0),
        Column("lmt_gend", "code", "限定性别", nullable=True, codes=("1", "2")),
        Column("lmt_age_min", "int", "限定最小年龄", nullable=True, min_value=0),
        Column("lmt_age_max", "int", "限定最大年龄", nullable=True, min_value=0),
        Column("max_cnt_per_day", "float", "每日限定数量", nullable=True, min_value=0),
        Column("max_cnt_per_period", "float", "周期内限定次数", nullable=True, min_value=0),
        Column("period_days", "int", "限定周期（天）", nullable=True, min_value=1),
        Column("min_hosp_lv_tier", "int", "限定最低医院级别（1/2/3）", nullable=True, min_value=0),
        Column("package_codg", "string", "所属打包项目编码", nullable=True),
        Column("days_per_unit", "float", "每单位用药天数", nullable=True, min_value=0),
        Column("max_days_supply", "int", "单次最大开药天数", nullable=True, min_value=1),
        Column("needs_trace_code", "bool", "需追溯码"),
    ),
)

MDTRT_D = Table(
    name="mdtrt_d",
    label="就诊信息",
    key=("mdtrt_id",),
    time_column="begntime",
    columns=(
        Column("mdtrt_id", "string", "就诊ID"),
        Column("psn_no", "string", "人员编号", pseudonymise=True),
        Column("certno", "string", "证件号码", required=False, nullable=True, pseudonymise=True),
        Column("fixmedins_code", "string", "定点医药机构编号", references=("fixmedins", "fixmedins_code")),
        Column("med_type", "code", "医疗类别", codes=_codes(MED_TYPE)),
        Column("begntime", "timestamp", "开始时间", no_future=True),
        Column("endtime", "timestamp", "结束时间", no_future=True),
        Column("dscg_maindiag_code", "string", "主要诊断代码", nullable=True),
        Column("drg_code", "string", "DRG/DIP 病组", required=False, nullable=True),
        Column("drg_weight", "float", "病组权重", required=False, nullable=True, min_value=0),
        Column("atddr_no", "string", "主诊医师代码", nullable=True, references=("dr_info", "dr_code")),
        Column("dept", "string", "科室", nullable=True),
        Column("gend", "code", "性别", codes=_codes(GEND)),
        Column("age", "int", "年龄", min_value=0),
        Column("insutype", "code", "险种类型", codes=_codes(INSUTYPE)),
    ),
)

SETL_D = Table(
    name="setl_d",
    label="结算信息",
    key=("setl_id",),
    time_column="setl_time",
    columns=(
        Column("setl_id", "string", "结算ID"),
        Column("mdtrt_id", "string", "就诊ID", references=("mdtrt_d", "mdtrt_id")),
        Column("psn_no", "string", "人员编号", pseudonymise=True),
        Column("fixmedins_code", "string", "定点医药机构编号", references=("fixmedins", "fixmedins_code")),
        Column("setl_time", "timestamp", "结算时间", no_future=True),
        # Amounts may be negative only on refunds (refd_setl_flag = 1); ingest checks the pair.
        Column("medfee_sumamt", "float", "医疗费总额", max_abs=MAX_AMOUNT),
        Column("hifp_pay", "float", "统筹基金支出", max_abs=MAX_AMOUNT),
        Column("fund_pay_sumamt", "float", "基金支付总额", max_abs=MAX_AMOUNT),
        Column("acct_pay", "float", "个人账户支出", max_abs=MAX_AMOUNT),
        Column("psn_cash_pay", "float", "个人现金支出", max_abs=MAX_AMOUNT),
        Column("refd_setl_flag", "code", "退费结算标志", codes=_codes(REFD_SETL_FLAG)),
    ),
)

FEE_LIST_D = Table(
    name="fee_list_d",
    label="费用明细",
    key=("feedetl_sn",),
    time_column="fee_ocur_time",
    columns=(
        Column("feedetl_sn", "string", "费用明细流水号"),
        Column("mdtrt_id", "string", "就诊ID", references=("mdtrt_d", "mdtrt_id")),
        Column("setl_id", "string", "结算ID", references=("setl_d", "setl_id")),
        Column("psn_no", "string", "人员编号", pseudonymise=True),
        Column("fixmedins_code", "string", "定点医药机构编号", references=("fixmedins", "fixmedins_code")),
        Column("fee_ocur_time", "timestamp", "费用发生时间", no_future=True),
        Column("med_list_codg", "string", "医保目录编码", references=("catalog", "med_list_codg")),
        Column("list_type", "code", "目录类别", codes=_codes(LIST_TYPE)),
        Column("med_chrgitm_type", "code", "医疗收费项目类别", codes=_codes(MED_CHRGITM_TYPE)),
        Column("chrgitm_lv", "code", "收费项目等级", codes=_codes(CHRGITM_LV)),
        Column("cnt", "float", "数量", max_abs=MAX_COUNT),
        Column("pric", "float", "单价", min_value=0, max_abs=MAX_AMOUNT),
        Column("det_item_fee_sumamt", "float", "明细项目费用总额", max_abs=MAX_AMOUNT),
        Column("bilg_dr_codg", "string", "开单医师代码", nullable=True, references=("dr_info", "dr_code")),
        Column("bilg_dept_codg", "string", "开单科室代码", nullable=True),
        Column("trace_code", "string", "药品追溯码", required=False, nullable=True),
    ),
)

INSPECTIONS = Table(
    name="inspections",
    label="检查结果",
    kind="label",
    key=("insp_id",),
    columns=(
        Column("insp_id", "string", "检查ID"),
        Column("fixmedins_code", "string", "定点医药机构编号", references=("fixmedins", "fixmedins_code")),
        Column("batch", "string", "检查批次"),
        Column("insp_date", "date", "检查日期", no_future=True),
        Column("period_begn", "date", "检查期间开始"),
        Column("period_end", "date", "检查期间结束"),
        Column("selection", "code", "选取方式", codes=_codes(SELECTION)),
        Column("insp_type", "code", "检查类型", required=False, nullable=True, codes=_codes(INSP_TYPE)),
        Column("violation_types", "string", "违规类型", nullable=True),
        # Recovered money is returned from the amount involved, so it cannot exceed it; a fine is a multiple
        # of the loss (1-2x, 2-5x for fraud: DOMAIN.md), so it is only bounded like every amount.
        Column("amount_involved", "float", "涉及金额", min_value=0, max_abs=MAX_AMOUNT),
        Column("amount_recovered", "float", "追回金额", min_value=0, max_abs=MAX_AMOUNT, at_most="amount_involved"),
        Column("fine_amount", "float", "罚款金额", min_value=0, max_abs=MAX_AMOUNT),
        Column("agreement_action", "code", "协议处理", codes=_codes(AGREEMENT_ACTION)),
        Column("referral", "bool", "移送公安"),
    ),
)

INSP_DR_POINTS = Table(
    name="insp_dr_points",
    label="医师记分",
    kind="label",
    key=("insp_id", "dr_code"),
    columns=(
        Column("insp_id", "string", "检查ID", references=("inspections", "insp_id")),
        Column("dr_code", "string", "医保医师代码", references=("dr_info", "dr_code")),
        Column("points", "int", "记分", min_value=0),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (ADMDVS, FIXMEDINS, DR_INFO, CATALOG, MDTRT_D, SETL_D, FEE_LIST_D, INSPECTIONS, INSP_DR_POINTS)
}
# Order in which tables are validated, so references point at already-validated keys.
LOAD_ORDER = ("admdvs", "fixmedins", "dr_info", "catalog", "mdtrt_d", "setl_d", "fee_list_d", "inspections",
              "insp_dr_points")  # fmt: skip


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; the contract has: {', '.join(TABLES)}") from None
