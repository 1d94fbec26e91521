"""Care bundles: which items a visit, an inpatient day, a surgery or a pharmacy purchase bills.

An entry is "KEY|KEY2" (alternatives; each key's manufacturer variants are alternatives too), a
probability and a count range. Bundles are keyed by (diagnosis code, setting, phase); phases are
op (outpatient visit), adm (admission work-up), day (every inpatient day), sur (operation day),
dis (take-home drugs on the discharge day). Generic bundles have a code of their own.
"""

from __future__ import annotations

Entry = tuple[str, float, int, int]


def _e(spec: str) -> list[Entry]:
    """Parse 'KEY p [lo-hi], …' into entries (compact to read and to keep next to the clinic)."""
    out = []
    for part in spec.split(","):
        toks = part.split()
        if not toks:
            continue
        lo = hi = 1
        if len(toks) > 2:
            a, _, b = toks[2].partition("-")
            lo, hi = int(a), int(b or a)
        out.append((toks[0], float(toks[1]), lo, hi))
    return out


GENERIC: dict[str, list[Entry]] = {
    "REG_HOSP": _e("REG 1"),
    "REG_PRIM": _e("GEN 1"),
    "REG_EMG": _e("EMG 1"),
    "IP_DAY": _e("BED 1, NURS2|NURS1 1, INP_EXAM 1"),
    "IP_ADM": _e("CBC .95, URINE .8, LIVER_P .75, RENAL_P .75, ELEC .6, COAG .5, ECG .85, XR_CHEST .5, GLU .4,"
                 "LIPID_P .3, INFECT .3, US_ABD .2, SYR .9 1-3, INFSET .7 1-2"),
    "PEDS_OP": _e("PEDS_IV .12, PEDS_MASS .04"),
    "PEDS_DAY": _e("PEDS_IV .5, PEDS_AMINO .1"),
    "PH_diabetes": _e("METF .8 2, ACAR .3 3, INSULIN .25 1"),
    "PH_hypertension": _e("AMLO|NIFE|VALS 1 1, ATOR .2 1"),
    "PH_copd": _e("TIO|SALM 1 1"),
    "PH_chd": _e("ASP|CLOP|ATOR 1 1, ATOR .4 1"),
    "PH_ACUTE": _e("LIANHUA|HUOXIANG|IBU|OMEP|LORA|COUGH|DICLO 1 1-2, AMOX|CEFU .2 1-2, CALD .1 1-2,"
                   "EYE_DROP .05, HEALTH .03 1-2"),
    "A1C": _e("A1C 1"),
}

# (code, setting) -> phase -> entries
CARE: dict[tuple[str, str], dict[str, list[Entry]]] = {
    ("J06.9", "op"): {"op": _e("CBC .5, CRP .3, AMOX|CEFU|AZI .45 1-2, LIANHUA|HUOXIANG .4 1-2, COUGH .3, IBU .3,"
                               "IV .12, NS .12 1-2, CEFT .08, INFSET .12, RESP_PANEL .05")},
    ("J20.9", "op"): {"op": _e("CBC .6, CRP .4, XR_CHEST .3, AMOX|CEFU|AZI .6 1-2, COUGH .5, NEB .25 1-3,"
                               "LIANHUA .3, IV .15, NS .15 1-2, LEVO .08, INFSET .15")},
    ("R50.9", "op"): {"op": _e("CBC .8, CRP .5, PARA_KID .6, IBU .1, RESP_PANEL .08, AMOX .2")},
    ("A09.9", "op"): {"op": _e("STOOL .8, CBC .5, ORS .6 1-2, AMOX .2, OMEP .2, IV .15, NS .15, GS .1,"
                               "INFSET .15, FOB .1")},
    ("K29.7", "op"): {"op": _e("OMEP .8 1-2, MOSA .5, GASTRO .06, US_ABD .2, FOB .1, CBC .2, LIVER_P .1, ALT .03,"
                               "HERB .15 5-7")},
    ("M54.5", "op"): {"op": _e("DICLO .6, PT .4 1-3, ACU .35 1-3, MASSAGE .25 1-2, HERB .2 5-7, DXA .05")},
    ("M17.9", "op"): {"op": _e("DICLO .6, MRI_KNEE .08, PT .4 1-3, ACU .2 1-2, CALD .2, HERB .15 5-7")},
    ("L30.9", "op"): {"op": _e("LORA .7, CBC .2")},
    ("H10.9", "op"): {"op": _e("EYE_DROP .9")},
    ("N76.0", "op"): {"op": _e("LEUC .9, VAG .8, TCT .15, HPV .1, US_GYN .3, COLPO .05")},
    ("N40", "op"): {"op": _e("PSA .5, US_PROST .6, URINE .5, TAMS .8 1-2")},
    ("I10", "op"): {"op": _e("AMLO|NIFE|VALS .8, ECG .4, RENAL_P .2, LIPID_P .2, GLU .2")},
    ("S93.4", "op"): {"op": _e("DRESS .3, DICLO .6, IBU .3, GAUZE .3 1-3")},
    ("Z34.9", "mat_op"): {"op": _e("US_OB .6, CBC .5, URINE .6, HCG .2, GLU .3, LEUC .2, CALD .4")},
    ("E11.9", "chronic"): {"op": _e("GLU .7, METF .7 2, ACAR .3 3, INSULIN .25, UACR .15, RENAL_P .1, LIPID_P .15,"
                                    "ATOR .4")},
    ("I10.X", "chronic"): {"op": _e("AMLO .5, NIFE .35, VALS .35, ATOR .3, ASP .3, ECG .2, RENAL_P .1")},
    ("J44.9", "chronic"): {"op": _e("TIO .6, SALM .5, LUNG_FN .08, XR_CHEST .1")},
    ("J18.9", "ip"): {
        "adm": _e("CT_CHEST .5, PCT .3, RESP_PANEL .3, BLOODGAS .2"),
        "day": _e("CEFT|LEVO|PIPT .9 1-2, NS .9 1-3, IV .9, IV_ADD .5 1-2, INFSET .9, NEB .3 1-2, OXY .2 4-12,"
                  "CBC .15, CRP .15"),
        "dis": _e("AMOX|CEFU .4 1-2"),
    },
    ("J44.1", "ip"): {
        "adm": _e("CT_CHEST .4, BLOODGAS .6, LUNG_FN .2, BNP .2"),
        "day": _e("PIPT|LEVO .8, NS .9 1-3, IV .9, IV_ADD .5 1-2, NEB .6 2-3, OXY .6 8-20, INFSET .9, BLOODGAS .1"),
        "dis": _e("TIO .4, SALM .3"),
    },
    ("I63.9", "ip"): {
        "adm": _e("CT_HEAD .8, MRI_HEAD .5, US_COLOR .5, LIPID_P .7, HOLTER .2, EEG .1"),
        "day": _e("EDAR .7, NS .9 1-2, IV .9, IV_ADD .5, MANN .2, HEP .3, PT .3, ACU .3, INFSET .9, REHAB .15"),
        "dis": _e("ASP .6, ATOR .6, CLOP .3"),
    },
    ("I21.9", "ip"): {
        "adm": _e("TNI .9, ECHO .8, BNP .5, COAG .9"),
        "day": _e("HEP .8, NS .8, IV .8, TNI .2, ECG .5, INFSET .8, OXY .4 6-12"),
        "sur": _e("PCI .8, STENT .8 1-2"),
        "dis": _e("ASP .9, CLOP .9, ATOR .9"),
    },
    ("I25.1", "ip"): {
        "adm": _e("ECHO .6, HOLTER .4, LIPID_P .7, TNI .4"),
        "day": _e("NS .6, IV .6, HEP .3, ECG .3, INFSET .6"),
        "dis": _e("ASP .7, ATOR .7"),
    },
    ("E11.9", "ip"): {
        "adm": _e("UACR .6, LIPID_P .6, US_ABD .3"),
        "day": _e("INS_S .7, GLU .9 4-7, NS .6, IV .6, INFSET .6"),
        "dis": _e("METF .7 2, INSULIN .3"),
    },
    ("K35.8", "ip"): {
        "adm": _e("US_ABD .8, ABO .9, INFECT .9"),
        "day": _e("CEFT .9, NS .9 1-2, IV .9, PANT .4, KETO .4, DRESS .4, INFSET .9"),
        "sur": _e("APPEND 1, ANES 1, SUTURE .9, GAUZE .9 2-5"),
    },
    ("K80.2", "ip"): {
        "adm": _e("US_ABD .9, ABO .8, INFECT .9, GASTRO .1"),
        "day": _e("CEFT .7, NS .9 1-2, IV .9, PANT .5, KETO .4, INFSET .9, DRESS .3"),
        "sur": _e("LC 1, ANES 1, LC_KIT .9, SUTURE .8"),
    },
    ("S72.0", "ip"): {
        "adm": _e("ABO .9, INFECT .9, XR_CHEST .9, DXA .1"),
        "day": _e("CEFT .5, HEP .8, NS .8, IV .8, KETO .5, DRESS .4, INFSET .8, REHAB .2, ALBUMIN .1, GSH .15"),
        "sur": _e("THR .8, ANES .8, HIP_PROS .8, SUTURE .8"),
    },
    ("N40", "ip"): {
        "adm": _e("PSA .8, US_PROST .9, INFECT .8, ABO .8"),
        "day": _e("CEFT .6, NS .8, IV .8, CATH .2, INFSET .8"),
        "sur": _e("TURP .7, ANES .7, CATH .9"),
    },
    ("D25.9", "ip"): {
        "adm": _e("US_GYN .9, TCT .4, HCG .6, INFECT .9, ABO .8, HYSTERO .2"),
        "day": _e("CEFT .7, NS .8, IV .8, KETO .4, INFSET .8"),
        "sur": _e("HYST .8, ANES .8, SUTURE .8, CATH .6"),
    },
    ("H25.9", "eye"): {"adm": _e("INFECT .6"), "day": _e("EYE_DROP .8, LEVO .1"),
                       "sur": _e("PHACO 1, ANES_L 1, IOL 1")},
    ("Z50.9", "rehab"): {"day": _e("REHAB .95 1-2, PT .8 1-2, ACU .5, MASSAGE .4, CBC .03, DICLO .1")},
    ("F20.9", "psych"): {"adm": _e("EEG .3"), "day": _e("PSY_CARE .95, OLAN .035, PSY_TX .2, CBC .02")},
    ("O80", "mat_ip"): {"adm": _e("US_OB .9, ABO .9, INFECT .9"), "day": _e("OXYT .3, NS .5, IV .5, INFSET .5"),
                        "sur": _e("DELIV 1, GAUZE .8 2-4")},
    ("O82", "mat_ip"): {"adm": _e("US_OB .9, ABO .9, INFECT .9"),
                        "day": _e("CEFT .8, OXYT .3, NS .8, IV .8, KETO .5, INFSET .8"),
                        "sur": _e("CSEC 1, ANES 1, SUTURE .9, CATH .8")},
    ("J06.9", "mild"): {"day": _e("NS .9 1-2, IV .9, CEFT|LEVO .6, LIANHUA .5, INFSET .9")},
    ("K29.7", "mild"): {"day": _e("PANT .8, NS .9, IV .9, INFSET .9")},
    ("M54.5", "mild"): {"day": _e("PT .8, ACU .6, MASSAGE .5, DICLO .4, NS .3, IV .3")},
}
# A child-only item given to an adult in a generic bundle is replaced by its adult counterpart.
ADULT_FOR = {"PARA_KID": "IBU", "MONT_KID": "LORA", "PEDS_AMINO": "AMINO", "PEDS_IV": None, "PEDS_MASS": "MASSAGE"}
