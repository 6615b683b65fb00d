"""Chinese labels for the machine keys of a screening summary (codes, reasons, table fields).

summary.json and persons.parquet keep their English keys and codes in every language
(DESIGN.md section 6); only the text for people (the printed summary, summary.html, the progress
line) shows these labels, with the code beside it so a reader can find it in summary.json.
English output shows the keys themselves, as it always has. A key without a label here is shown
as is, so a new reason is never lost, only untranslated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mgcare.i18n import MAGNESIUM_STATUS, Lang

DEPLETING_WITHOUT_CHECK = "depleting-medication-without-magnesium-check"

FINDING_ZH: dict[str, str] = {
    "hypomagnesemia-severe": "重度低镁血症",
    "hypomagnesemia": "低镁血症",
    "low-normal-magnesium": "血清镁正常低限",
    "hypermagnesemia": "高镁血症",
    "hypermagnesemia-severe": "重度高镁血症",
    "magnesium-not-measured": "未检测血清镁",
    "ca-mg-ratio-high": "钙/镁摩尔比偏高",
    "depleting-medication": "使用致镁丢失药物",
    "magnesium-raising-medication": "使用升高血镁的药物",
    "renal-impairment": "肾功能受损",
    "supplement-interaction": "镁制剂与药物相互作用",
    "hypokalemia-with-low-magnesium": "低钾血症伴低镁",
    "digoxin-with-low-magnesium": "地高辛合并低镁",
    "rapid-atrial-fibrillation": "快速心房颤动",
    "implausible-unit": "单位存疑",
    "intake-below-reference": "镁摄入低于参考值",
    "supplement-above-upper-limit": "补充镁超过可耐受最高摄入量",
    DEPLETING_WITHOUT_CHECK: "使用致镁丢失药物但近期无血清镁结果",
}
"""Short names of the finding codes a batch can produce (the pack's texts are sentences)."""

REASON_ZH: dict[str, str] = {
    # persons
    "duplicate-row": "重复行",
    "missing-person-id": "缺少 person_id",
    "birth-date-not-a-date": "出生日期不是有效日期",
    "birth-date-after-today": "出生日期晚于今天",
    "birth-date-impossible-age": "出生日期对应的年龄不可能",
    "deceased-date-not-a-date": "死亡日期不是有效日期",
    "deceased-before-as-of": "评估日期前已死亡",
    # labs
    "loinc-missing": "缺少 LOINC",
    "loinc-not-screened": "LOINC 不在筛查项目内",
    "unit-not-valid-for-analyte": "单位不适用于该检验项目",
    "value-not-a-number": "数值不是数字",
    "effective-not-a-date": "检验时间不是有效日期",
    "value-not-positive": "数值不为正",
    "value-impossible-in-every-unit": "数值在任何单位下都不可能",
    "dated-before-1900": "日期早于 1900 年",
    "dated-before-birth": "日期早于出生",
    "dated-after-today": "日期晚于今天",
    "unknown-person": "人员表中无此人",
    "person-excluded": "该人员已被排除",
    # medications and conditions
    "code-missing": "缺少代码",
    "system-not-atc-rxnorm-text": "编码系统不是 atc、rxnorm 或 text",
    "system-not-icd10-snomed-text": "编码系统不是 icd10、snomed 或 text",
    "date-not-a-date": "日期不是有效日期",
    "ends-before-start": "结束日期早于开始日期",
    "onset-not-a-date": "起病日期不是有效日期",
    "onset-after-today": "起病日期晚于今天",
    # left out of calculations
    "implausible-for-unit": "数值与单位不符",
    "mislabelled-panel": "疑似整组单位标错",
}
"""Why input rows were excluded or left out of calculations."""
AGE_REASON = re.compile(r"age-years-not-a-whole-number-0-(\d+)")

FIELD_ZH: dict[str, str] = {
    "rows": "行数",
    "screened": "已筛查",
    "used": "已使用",
    "rows naming a pack drug": "可对应知识库药物的行",
    "rows naming a condition group": "可对应疾病组的行",
    "reference_interval_ignored (low >= high)": "参考区间被忽略（下限 ≥ 上限）",
    "exact_duplicate_rows": "完全重复的行",
    "sex-unknown (no CKD-EPI eGFR)": "性别未知（无法计算 CKD-EPI eGFR）",
    "sex-value-not-male-female (read as unknown)": "性别值不是 male/female（按未知处理）",
    "age-unknown (no CKD-EPI eGFR)": "年龄未知（无法计算 CKD-EPI eGFR）",
}
"""Row counts and notes of the per-table section."""
NOT_CHECKED = re.compile(r"not checked \(more than (\d+) rows\); duplicates cannot change results")

TABLE_ZH: dict[str, str] = {
    "persons": "人员",
    "labs": "检验",
    "medications": "用药",
    "conditions": "疾病诊断",
}

STEP_ZH: dict[str, str] = {
    "read and check columns": "读取并检查列",
    "persons": "人员",
    "labs": "检验",
    "medications": "用药",
    "conditions": "疾病诊断",
    "write persons.parquet": "写入 persons.parquet",
    "summary": "汇总",
    "total": "合计",
}
"""Progress and run-time step names (pipeline.screen_tables)."""

VARIANCE_ZH: dict[str, str] = {
    "Taylor linearisation, with-replacement PSUs within strata": "泰勒线性化，层内初级抽样单位按有放回抽样",
}
INDICATOR = re.compile(r"mg_status=(.+) \(among measured\)")


def with_code(zh: str | None, code: str, show_code: bool = True) -> str:
    """`中文（code）` (or `中文` alone where space is short, as in chart labels), or the code
    alone when there is no label."""
    if not zh:
        return code
    return f"{zh}（{code}）" if show_code else zh


def status(code: str, lang: Lang, show_code: bool = True) -> str:
    """A serum magnesium status (i18n.MAGNESIUM_STATUS) with its code."""
    if lang == "en":
        return code
    label = MAGNESIUM_STATUS.get(code)
    return with_code(label.zh if label else None, code, show_code)


def finding(code: str, lang: Lang, show_code: bool = True) -> str:
    return code if lang == "en" else with_code(FINDING_ZH.get(code), code, show_code)


def reason(code: str, lang: Lang) -> str:
    if lang == "en":
        return code
    age = AGE_REASON.fullmatch(code)
    if age:
        return with_code(f"年龄不是 0–{age.group(1)} 的整数", code)
    return with_code(REASON_ZH.get(code), code)


def field(key: str, lang: Lang) -> str:
    return key if lang == "en" else FIELD_ZH.get(key, key)


def value(text: object, lang: Lang) -> object:
    """A row-count cell that is a sentence in summary.json (duplicate check skipped)."""
    if lang == "en" or not isinstance(text, str):
        return text
    skipped = NOT_CHECKED.fullmatch(text)
    if skipped:
        return f"未检查（超过 {int(skipped.group(1)):,} 行）；重复行不会改变结果"
    return text


def table(name: str, lang: Lang) -> str:
    return name if lang == "en" else TABLE_ZH.get(name, name)


def step(name: str, lang: Lang) -> str:
    return name if lang == "en" else STEP_ZH.get(name, name)


def variance(text: str, lang: Lang) -> str:
    return text if lang == "en" else VARIANCE_ZH.get(text, text)


def indicator(name: str, lang: Lang, show_code: bool = True) -> str:
    """A weighted-prevalence indicator: a finding code or `mg_status=S (among measured)`."""
    if lang == "en":
        return name
    among = INDICATOR.fullmatch(name)
    if among:
        label = MAGNESIUM_STATUS.get(among.group(1))
        return f"已检测者中的{with_code(label.zh if label else None, among.group(1), show_code)}"
    return finding(name, lang, show_code)


def drug_class(code: str, lang: Lang, classes_zh: Mapping[str, str]) -> str:
    """A drug class with its Chinese name from the knowledge pack (drugs.toml class_zh)."""
    return code if lang == "en" else with_code(classes_zh.get(code), code)
