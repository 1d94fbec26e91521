"""The knowledge base (医保目录): items, prices, caps, restrictions and packages.

Items are declared by a short key; drugs and consumables come in several manufacturers' variants
(different codes and prices), which is what makes a catalogue a few hundred lines long. The keys
are what care bundles and behaviour modules refer to; `Catalog.variants(key)` gives the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# key, name, list_type, med_chrgitm_type, chrgitm_lv, ref_price, extra
_SERVICES: list[tuple] = [
    ("REG", "普通门诊诊察费", "02", "01", 10, {"cap": 1.0}),
    ("EMG", "急诊诊察费", "02", "01", 15, {"cap": 1.0}),
    ("GEN", "一般诊疗费", "12", "01", 10, {"cap": 1.0}),
    ("INP_EXAM", "住院诊察费", "02", "01", 20, {"cap": 1.0, "per_day": 1}),
    ("BED", "普通病房床位费", "01", "01", 50, {"cap": 1.0, "per_day": 1}),
    ("NURS1", "一级护理", "07", "01", 30, {"cap": 1.0, "per_day": 1}),
    ("NURS2", "二级护理", "07", "01", 20, {"cap": 1.0, "per_day": 1}),
    ("IV", "静脉输液（第一组）", "05", "01", 8, {"per_day": 2}),
    ("IV_ADD", "静脉输液（每增加一组）", "05", "01", 3, {}),
    ("INJ", "肌肉注射", "05", "01", 3, {}),
    ("NEB", "雾化吸入", "05", "01", 10, {"per_day": 3}),
    ("OXY", "氧气吸入（小时）", "05", "01", 5, {}),
    ("PT", "中频脉冲电治疗", "05", "02", 25, {"cap": 1.0}),
    ("ACU", "普通针刺", "05", "01", 30, {"cap": 1.0}),
    ("MASSAGE", "推拿治疗", "05", "02", 40, {"cap": 1.0}),
    ("PEDS_MASS", "小儿推拿", "05", "02", 35, {"age_max": 14}),
    ("PEDS_IV", "小儿静脉输液加收", "05", "01", 5, {"age_max": 14}),
    ("REHAB", "运动疗法", "05", "02", 60, {"cap": 1.0, "per_day": 2}),
    ("PSY_CARE", "精神科监护", "05", "02", 30, {"per_day": 1}),
    ("PSY_TX", "个别心理治疗", "05", "02", 80, {"cap": 1.0}),
    ("DRESS", "换药", "05", "01", 20, {}),
    ("CBC", "血常规", "04", "01", 20, {"cap": 1.0}),
    ("URINE", "尿常规", "04", "01", 10, {}),
    ("STOOL", "粪便常规", "04", "01", 8, {}),
    ("CRP", "C反应蛋白测定", "04", "01", 30, {"cap": 1.0}),
    ("PCT", "降钙素原测定", "04", "02", 120, {"cap": 1.0}),
    ("GLU", "血糖测定", "04", "01", 8, {}),
    ("A1C", "糖化血红蛋白测定", "04", "01", 60, {"cap": 1.0, "per_period": 1, "period": 90}),
    ("LIVER_P", "肝功能组合", "04", "01", 60, {"cap": 1.0}),
    ("ALT", "丙氨酸氨基转移酶测定", "04", "01", 25, {"pkg": "LIVER_P"}),
    ("AST", "天门冬氨酸氨基转移酶测定", "04", "01", 25, {"pkg": "LIVER_P"}),
    ("TBIL", "总胆红素测定", "04", "01", 15, {"pkg": "LIVER_P"}),
    ("ALB_T", "白蛋白测定", "04", "01", 15, {"pkg": "LIVER_P"}),
    ("RENAL_P", "肾功能组合", "04", "01", 40, {"cap": 1.0}),
    ("UREA", "尿素测定", "04", "01", 15, {"pkg": "RENAL_P"}),
    ("CREA", "肌酐测定", "04", "01", 15, {"pkg": "RENAL_P"}),
    ("UA", "尿酸测定", "04", "01", 15, {"pkg": "RENAL_P"}),
    ("LIPID_P", "血脂四项", "04", "01", 50, {"cap": 1.0}),
    ("TC", "总胆固醇测定", "04", "01", 15, {"pkg": "LIPID_P"}),
    ("TG", "甘油三酯测定", "04", "01", 15, {"pkg": "LIPID_P"}),
    ("HDL", "高密度脂蛋白胆固醇测定", "04", "01", 20, {"pkg": "LIPID_P"}),
    ("LDL", "低密度脂蛋白胆固醇测定", "04", "01", 20, {"pkg": "LIPID_P"}),
    ("ELEC", "电解质测定", "04", "01", 35, {}),
    ("COAG", "凝血四项", "04", "01", 80, {"cap": 1.0}),
    ("BNP", "脑钠肽测定", "04", "02", 200, {"cap": 1.0}),
    ("TNI", "肌钙蛋白I测定", "04", "02", 90, {"cap": 1.0}),
    ("PSA", "前列腺特异性抗原测定", "04", "01", 80, {"sex": "1", "cap": 1.0}),
    ("HCG", "人绒毛膜促性腺激素测定", "04", "01", 50, {"sex": "2"}),
    ("LEUC", "阴道分泌物检查", "04", "01", 20, {"sex": "2"}),
    ("TCT", "宫颈液基细胞学检查", "04", "02", 150, {"sex": "2", "cap": 1.0}),
    ("HPV", "人乳头瘤病毒核酸检测", "04", "03", 200, {"sex": "2"}),
    ("BLOODGAS", "血气分析", "04", "01", 60, {}),
    ("UACR", "尿微量白蛋白测定", "04", "02", 40, {}),
    ("RESP_PANEL", "呼吸道病原体核酸检测", "04", "02", 180, {"cap": 1.0}),
    ("CEA", "癌胚抗原测定", "04", "02", 60, {"cap": 1.0}),
    ("FOB", "大便隐血试验", "04", "01", 10, {}),
    ("VITD", "25羟维生素D测定", "04", "03", 150, {}),
    ("ABO", "血型鉴定", "04", "01", 15, {}),
    ("INFECT", "术前感染四项", "04", "01", 120, {"cap": 1.0}),
    ("XR_CHEST", "胸部X线摄影", "03", "01", 60, {"cap": 1.0}),
    ("CT_HEAD", "头颅CT平扫", "03", "01", 180, {"cap": 1.0}),
    ("CT_CHEST", "胸部CT平扫", "03", "01", 200, {"cap": 1.0}),
    ("MRI_HEAD", "头颅磁共振平扫", "03", "02", 600, {"cap": 1.0, "tier": 2}),
    ("MRI_KNEE", "膝关节磁共振平扫", "03", "02", 550, {"cap": 1.0, "tier": 2}),
    ("US_ABD", "腹部B超", "03", "01", 80, {"cap": 1.0}),
    ("US_COLOR", "彩色多普勒超声", "03", "02", 180, {"cap": 1.0}),
    ("US_GYN", "妇科B超", "03", "01", 90, {"sex": "2"}),
    ("US_PROST", "前列腺B超", "03", "01", 80, {"sex": "1"}),
    ("US_OB", "产科B超", "03", "01", 120, {"sex": "2"}),
    ("ECG", "常规心电图", "03", "01", 25, {}),
    ("HOLTER", "动态心电图", "03", "02", 200, {"cap": 1.0}),
    ("ECHO", "心脏彩色多普勒超声", "03", "02", 250, {"cap": 1.0}),
    ("GASTRO", "电子胃镜检查", "03", "02", 300, {"cap": 1.0, "tier": 2}),
    ("COLPO", "阴道镜检查", "03", "02", 150, {"sex": "2"}),
    ("HYSTERO", "宫腔镜检查", "03", "02", 600, {"sex": "2", "tier": 2}),
    ("DXA", "骨密度测定", "03", "03", 100, {}),
    ("LUNG_FN", "肺功能检查", "03", "01", 120, {}),
    ("EEG", "常规脑电图", "03", "02", 150, {}),
    ("APPEND", "阑尾切除术", "06", "01", 1500, {"cap": 1.0, "tier": 2}),
    ("LC", "腹腔镜胆囊切除术", "06", "01", 3000, {"cap": 1.0, "tier": 2}),
    ("THR", "人工股骨头置换术", "06", "01", 5000, {"cap": 1.0, "tier": 2}),
    ("TURP", "经尿道前列腺电切术", "06", "01", 3500, {"sex": "1", "tier": 2}),
    ("HYST", "子宫切除术", "06", "01", 3500, {"sex": "2", "tier": 2}),
    ("CSEC", "子宫下段剖宫产术", "06", "01", 2000, {"sex": "2"}),
    ("DELIV", "单胎顺产接生", "06", "01", 800, {"sex": "2"}),
    ("PCI", "经皮冠状动脉支架置入术", "06", "01", 6000, {"cap": 1.0, "tier": 3}),
    ("PHACO", "白内障超声乳化摘除术", "06", "01", 2500, {"cap": 1.0, "tier": 2}),
    ("ANES", "全身麻醉", "06", "01", 800, {"cap": 1.0}),
    ("ANES_L", "局部浸润麻醉", "06", "01", 100, {}),
]
# key, name, chrgitm_lv, ref_price, extra  (medical consumables, 301 / 08)
_CONSUMABLES: list[tuple] = [
    ("SYR", "一次性使用无菌注射器", "01", 1.0, {}),
    ("SYR_SAFE", "一次性使用安全注射器", "02", 5.0, {}),
    ("INFSET", "一次性使用输液器", "01", 5.0, {}),
    ("INFSET_PREC", "一次性使用精密过滤输液器", "02", 28.0, {}),
    ("CATH", "一次性导尿管", "02", 30.0, {}),
    ("SUTURE", "可吸收外科缝线", "02", 120.0, {}),
    ("STENT", "冠状动脉药物洗脱支架（集采）", "02", 800.0, {}),
    ("IOL", "人工晶体", "02", 1500.0, {}),
    ("HIP_PROS", "人工股骨头假体", "02", 8000.0, {}),
    ("LC_KIT", "腹腔镜手术耗材包", "02", 1200.0, {}),
    ("GAUZE", "医用脱脂纱布", "01", 3.0, {}),
    ("DRESS_ADV", "藻酸盐伤口敷料", "03", 60.0, {}),
]
# key, name, list_type, chrgitm_type, lv, ref_price, days_per_unit, max_days, extra
# max_days follows prescription rules: 7 days for acute illness, 12 weeks (长处方, 90 days) for chronic
# disease; acute packs are small enough that an honest one- or two-pack prescription stays within 7 days.
_DRUGS: list[tuple] = [
    ("METF", "二甲双胍片", "101", "09", "01", 15, 20, 90, {}),
    ("ACAR", "阿卡波糖片", "101", "09", "02", 30, 10, 90, {}),
    ("INSULIN", "甘精胰岛素注射液", "101", "09", "02", 180, 30, 90, {}),
    ("AMLO", "苯磺酸氨氯地平片", "101", "09", "01", 12, 28, 90, {}),
    ("NIFE", "硝苯地平控释片", "101", "09", "02", 30, 28, 90, {}),
    ("VALS", "缬沙坦胶囊", "101", "09", "02", 35, 28, 90, {}),
    ("ATOR", "阿托伐他汀钙片", "101", "09", "02", 20, 28, 90, {}),
    ("ASP", "阿司匹林肠溶片", "101", "09", "01", 15, 30, 90, {}),
    ("CLOP", "硫酸氢氯吡格雷片", "101", "09", "02", 40, 28, 90, {}),
    ("TIO", "噻托溴铵吸入粉雾剂", "101", "09", "02", 120, 30, 90, {}),
    ("SALM", "沙美特罗替卡松吸入粉雾剂", "101", "09", "02", 160, 30, 90, {}),
    ("TAMS", "盐酸坦索罗辛缓释胶囊", "101", "09", "02", 45, 20, 90, {}),
    ("OLAN", "奥氮平片", "101", "09", "02", 80, 28, 90, {}),
    ("AMOX", "阿莫西林胶囊", "101", "09", "01", 12, 3, 7, {}),
    ("CEFU", "头孢呋辛酯片", "101", "09", "02", 25, 3, 7, {}),
    ("AZI", "阿奇霉素片", "101", "09", "01", 20, 3, 7, {}),
    ("IBU", "布洛芬缓释胶囊", "101", "09", "01", 10, 3, 7, {}),
    ("PARA_KID", "对乙酰氨基酚混悬滴剂（儿童）", "101", "09", "01", 15, 3, 7, {"age_max": 14}),
    ("MONT_KID", "孟鲁司特钠咀嚼片（儿童）", "101", "09", "02", 40, 3, 7, {"age_max": 14}),
    ("OMEP", "奥美拉唑肠溶胶囊", "101", "09", "01", 15, 3, 7, {}),
    ("MOSA", "枸橼酸莫沙必利片", "101", "09", "02", 20, 3, 7, {}),
    ("LORA", "氯雷他定片", "101", "09", "01", 12, 3, 7, {}),
    ("ORS", "口服补液盐散", "101", "09", "01", 5, 3, 7, {}),
    ("DICLO", "双氯芬酸钠缓释片", "101", "09", "01", 15, 3, 7, {}),
    ("COUGH", "复方甘草口服溶液", "101", "09", "01", 8, 3, 7, {}),
    ("EYE_DROP", "左氧氟沙星滴眼液", "101", "09", "01", 20, 3, 7, {}),
    ("VAG", "克霉唑阴道片", "101", "09", "01", 15, 3, 7, {"sex": "2"}),
    ("CALD", "碳酸钙D3片", "101", "09", "02", 60, 30, 90, {}),
    ("LIANHUA", "连花清瘟胶囊", "101", "11", "02", 20, 3, 7, {}),
    ("HUOXIANG", "藿香正气水", "101", "11", "01", 10, 3, 7, {}),
    ("HEALTH", "保健食品（自费）", "101", "09", "03", 60, 30, 90, {"trace": False}),
    ("NS", "氯化钠注射液", "101", "09", "01", 5, None, None, {}),
    ("GS", "葡萄糖注射液", "101", "09", "01", 5, None, None, {}),
    ("CEFT", "注射用头孢曲松钠", "101", "09", "01", 15, None, None, {}),
    ("PIPT", "注射用哌拉西林他唑巴坦", "101", "09", "02", 60, None, None, {}),
    ("LEVO", "左氧氟沙星氯化钠注射液", "101", "09", "02", 25, None, None, {}),
    ("HEP", "低分子肝素钙注射液", "101", "09", "02", 35, None, None, {}),
    ("PANT", "注射用泮托拉唑钠", "101", "09", "02", 30, None, None, {}),
    ("EDAR", "依达拉奉注射液", "101", "09", "02", 80, None, None, {}),
    ("MANN", "甘露醇注射液", "101", "09", "01", 8, None, None, {}),
    ("OXYT", "缩宫素注射液", "101", "09", "01", 5, None, None, {"sex": "2"}),
    ("AMINO", "复方氨基酸注射液", "101", "09", "02", 40, None, None, {}),
    ("PEDS_AMINO", "小儿复方氨基酸注射液", "101", "09", "02", 45, None, None, {"age_max": 14}),
    ("INS_S", "胰岛素注射液（短效）", "101", "09", "01", 40, None, None, {}),
    ("KETO", "酮咯酸氨丁三醇注射液", "101", "09", "02", 20, None, None, {}),
    ("GSH", "注射用还原型谷胱甘肽", "101", "09", "02", 60, None, None, {"cap": 1.1}),
    ("ALBUMIN", "人血白蛋白", "101", "09", "02", 350, None, None, {"cap": 1.1}),
    ("HERB", "中药饮片（每剂）", "102", "10", "02", 25, 1, 14, {"trace": False}),
]
# Item swaps (串换): the cheap / self-pay item actually given → the dearer covered code billed.
SWAPS = {"SYR": "SYR_SAFE", "INFSET": "INFSET_PREC", "US_ABD": "US_COLOR", "HEALTH": "CALD",
         "DRESS_ADV": "SUTURE"}
PACKAGES = ("LIVER_P", "RENAL_P", "LIPID_P")
_MAKERS = ("A", "B", "C", "D")


@dataclass
class Catalog:
    """Catalogue rows as parallel arrays plus key → row indices."""

    rows: list[dict]
    by_key: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, r in enumerate(self.rows):
            self.by_key.setdefault(r["key"], []).append(i)
        n = len(self.rows)
        self.ref_cents = np.array([round(r["ref_price"] * 100) for r in self.rows], dtype=np.int64)
        cap = [r["price_cap"] for r in self.rows]
        self.cap_cents = np.array([-1 if c is None else round(c * 100) for c in cap], dtype=np.int64)
        self.lv = np.array([int(r["chrgitm_lv"]) for r in self.rows], dtype=np.int8)
        self.is_drug = np.array([r["list_type"] in ("101", "102") for r in self.rows])
        self.is_service = np.array([r["list_type"] == "201" for r in self.rows])
        self.trace = np.array([r["needs_trace_code"] for r in self.rows])
        self.days_per_unit = np.array([r["days_per_unit"] or 0.0 for r in self.rows], dtype=np.float64)
        self.max_days = np.array([r["max_days_supply"] or 0 for r in self.rows], dtype=np.int32)
        self.swap_to = np.full(n, -1, dtype=np.int32)
        for src, dst in SWAPS.items():
            for j, i in enumerate(self.by_key[src]):
                dsts = self.by_key[dst]
                self.swap_to[i] = dsts[j % len(dsts)]
        self.codes = [r["med_list_codg"] for r in self.rows]
        self.ctype = np.array([r["med_chrgitm_type"] for r in self.rows])
        self.is_test = np.isin(self.ctype, ("03", "04"))
        self.min_tier = np.array([r["min_hosp_lv_tier"] or 0 for r in self.rows], dtype=np.int8)
        self.sex = np.array([{"1": 1, "2": 2}.get(r["lmt_gend"] or "", 0) for r in self.rows], dtype=np.int8)
        self.age_max = np.array([r["lmt_age_max"] if r["lmt_age_max"] is not None else 999 for r in self.rows])

    def first(self, key: str) -> int:
        return self.by_key[key][0]

    def variants(self, key: str) -> list[int]:
        return self.by_key[key]


def _service_code(ctype: str, seq: int) -> str:
    return f"00{ctype}{seq:05d}0000{seq % 97:02d}"[:15]


def build_catalog(rng: np.random.Generator) -> Catalog:
    """Every item with its national-style code; variant prices drawn once from `rng`."""
    rows: list[dict] = []

    def add(key: str, code: str, name: str, lt: str, ct: str, lv: str, price: float, x: dict, **kw) -> None:
        cap = x.get("cap")
        rows.append(
            {
                "key": key, "med_list_codg": code, "name": name, "list_type": lt, "med_chrgitm_type": ct,
                "chrgitm_lv": lv, "ref_price": round(price, 2),
                "price_cap": None if cap is None else round(price * cap, 2),
                "lmt_gend": x.get("sex"), "lmt_age_min": None, "lmt_age_max": x.get("age_max"),
                "max_cnt_per_day": None if x.get("per_day") is None else float(x["per_day"]),
                "max_cnt_per_period": None if x.get("per_period") is None else float(x["per_period"]),
                "period_days": x.get("period"), "min_hosp_lv_tier": x.get("tier"),
                "package_codg": None, "days_per_unit": kw.get("dpu"), "max_days_supply": kw.get("maxd"),
                "needs_trace_code": bool(kw.get("trace", False)), "_pkg": x.get("pkg"),
            }
        )

    for seq, (key, name, ct, lv, price, x) in enumerate(_SERVICES, start=1):
        add(key, _service_code(ct, seq * 7 + 100), name, "201", ct, lv, float(price), x)
    for seq, (key, name, lv, price, x) in enumerate(_CONSUMABLES, start=1):
        for k, mk in enumerate(_MAKERS[:2]):
            p = price * (1.0 if k == 0 else float(rng.uniform(0.9, 1.25)))
            code = f"C{seq:04d}{k + 1:02d}99{seq * 37 % 1000:03d}{k:04d}0000"
            add(key, code, f"{name}（{mk}厂）", "301", "08", lv, p, {**x, "cap": 1.2})
    for seq, (key, name, lt, ct, lv, price, dpu, maxd, x) in enumerate(_DRUGS, start=1):
        makers = _MAKERS[:1] if lt == "102" else _MAKERS
        for k, mk in enumerate(makers):
            p = price * (1.0 if k == 0 else float(rng.uniform(0.7, 1.5)))
            prefix = "T" if lt == "102" else ("Z" if ct == "11" else "X")
            code = f"{prefix}{seq:03d}{'ABCDEFGHJK'[seq % 10]}{k + 1:02d}{seq * 131 % 100000:05d}{k:03d}0101"
            xx = {**x, "cap": x.get("cap", 1.15)}
            add(key, code, f"{name}（{mk}）", lt, ct, lv, p, xx, dpu=dpu and float(dpu), maxd=maxd,
                trace=x.get("trace", lt == "101"))
    code_of = {r["key"]: r["med_list_codg"] for r in rows if r["list_type"] == "201"}
    for r in rows:
        pkg = r.pop("_pkg")
        r["package_codg"] = code_of[pkg] if pkg else None
    return Catalog(rows)
