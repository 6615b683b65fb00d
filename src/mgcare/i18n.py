"""Interface words in English and Simplified Chinese (clinical text lives in the knowledge pack)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")


@dataclass(frozen=True, slots=True)
class L:
    """A piece of text in both languages."""

    en: str
    zh: str

    def get(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en


def join(parts: list[L], lang_sep: L = L("; ", "；")) -> L:
    """Join localized parts, keeping each language separate."""
    return L(lang_sep.en.join(p.en for p in parts), lang_sep.zh.join(p.zh for p in parts))


STATUS_LABEL: dict[str, L] = {
    "P": L("confirmed in a primary source", "已核对原始文献"),
    "S": L("secondary source only", "仅有二手来源"),
    "SEED": L("review statement, not independently confirmed", "仅为综述观点，未独立核实"),
    "CALC": L("calculated", "计算值"),
    "DERIVED": L("mgcare team decision, not a guideline number", "mgcare团队决定，非指南数值"),
    "UNVERIFIED": L("unverified", "未核实"),
    "SITE": L("site rule", "本机构规则"),
}

UI: dict[str, L] = {
    "evidence": L("Evidence", "证据"),
    "findings": L("Findings", "发现"),
    "recommendations": L("Recommendations", "建议"),
    "serum_mg": L("Serum magnesium", "血清镁"),
    "ca_mg": L("Ca/Mg molar ratio", "钙/镁摩尔比"),
    "egfr": L("eGFR", "估算肾小球滤过率"),
    "person": L("Person", "个人"),
    "none": L("none", "无"),
    "not_measured": L("not measured", "未检测"),
    "applies": L("cut-off applies (diabetes)", "适用切点（糖尿病）"),
    "not_applies": L("cut-off applies only in diabetes", "切点仅适用于糖尿病"),
    "status": L("status", "状态"),
    "grade": L("CTCAE grade", "CTCAE分级"),
    "disclaimer": L("Disclaimer", "免责声明"),
    "default_rule": L("mgcare default from the review", "mgcare默认值（来自综述）"),
    "lab_rule": L("the laboratory's reference interval", "检验科参考区间"),
}

MAGNESIUM_STATUS: dict[str, L] = {
    "hypomagnesemia-severe": L("severe hypomagnesaemia", "重度低镁血症"),
    "hypomagnesemia": L("hypomagnesaemia", "低镁血症"),
    "low-normal": L("low-normal", "正常低限"),
    "normal": L("normal", "正常"),
    "hypermagnesemia": L("hypermagnesaemia", "高镁血症"),
    "hypermagnesemia-severe": L("severe hypermagnesaemia", "重度高镁血症"),
}

SEX: dict[str, L] = {"male": L("male", "男"), "female": L("female", "女")}
