"""The knowledge pack: complete, cited, validated at load, and the only home of clinical numbers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mgcare.knowledge import (
    FINDING_CODES,
    RECOMMENDATION_CODES,
    Knowledge,
    KnowledgeError,
    load_knowledge,
)
from tests.conftest import numeric_literals

SRC = Path(__file__).resolve().parents[2] / "src" / "mgcare"
RULE_MODULES = [*sorted((SRC / "rules").glob("*.py")), SRC / "units.py"]
# Numbers that are not clinical: identities, SI prefixes (deci, milli), rounding digits, months per year.
ALLOWED_LITERALS = {0, 1, -1, 2, 3, 4, 10, 12, 1e-3}


def test_all_review_references_present(knowledge: Knowledge) -> None:
    """All 56 references of the review, each with a citation."""
    review = [r for r in knowledge.evidence.reference if r.kind == "review-reference"]
    assert sorted(r.number for r in review) == list(range(1, 57))
    assert all(r.citation for r in review)


def test_known_identifiers(knowledge: Knowledge) -> None:
    """DOIs and PMIDs from clinical.md section 0 are carried (spot checks)."""
    refs = knowledge.references
    assert refs["R27"].doi == "10.3390/nu13010195"
    assert refs["R44"].pmid == "34162502"
    assert refs["CKDEPI21"].doi == "10.1056/NEJMoa2102953"


def test_every_code_has_bilingual_text(knowledge: Knowledge) -> None:
    for code in FINDING_CODES:
        text = knowledge.finding_text(code)
        assert text.summary_en and text.summary_zh and text.evidence
    for code in RECOMMENDATION_CODES:
        text = knowledge.recommendation_text(code)
        assert text.summary_en and text.summary_zh and text.evidence


def test_claims_carry_review_caveats(knowledge: Knowledge) -> None:
    """clinical.md 12: where the review overstates a source, the claim says so."""
    claims = {c.id: c for c in knowledge.claims.claim}
    assert "12.6" in claims["1.4.3"].caveat_codes and claims["1.4.3"].caveat_en
    assert "12.7" in claims["1.5.5"].caveat_codes
    assert "12.5" in claims["1.4.4"].caveat_codes


def test_rows_have_source_and_status(knowledge: Knowledge) -> None:
    for _, section in knowledge.thresholds:
        if isinstance(section, str):
            continue
        for _, fact in section:
            if fact is not None:
                assert fact.source and fact.status and fact.unit


def test_broken_reference_fails_at_load(tmp_path: Path) -> None:
    """A site override that breaks the pack fails loudly, naming the problem."""
    site = tmp_path / "bad.toml"
    site.write_text(
        'name = "x"\n[thresholds.serum_magnesium.normal_upper]\nvalue = 1.05\nunit = "mg/dL"\n'
    )
    with pytest.raises(KnowledgeError, match="must be in mmol/L"):
        load_knowledge(site)
    site.write_text("[thresholds.serum_magnesium.normal_upper]\nvalue = 1.05\n")
    with pytest.raises(KnowledgeError, match="name"):
        load_knowledge(site)
    site.write_text('name = "x"\n[thresholds.serum_magnesium.normal_upper]\nvalue = 0.1\n')
    with pytest.raises(KnowledgeError, match="increasing order"):
        load_knowledge(site)


@pytest.mark.parametrize("module", RULE_MODULES, ids=lambda p: p.name)
def test_no_clinical_number_in_rule_code(module: Path) -> None:
    """Every threshold, dose and range is read from the pack: rule code holds no other number."""
    offending = numeric_literals(module, ALLOWED_LITERALS)
    assert not offending, (
        f"{module.name}: numeric literals {offending} belong in the knowledge pack"
    )


def test_literal_scan_catches_a_number(tmp_path: Path) -> None:
    """The scan itself works: a bare 0.7 would be reported."""
    tree = ast.parse("if serum_mg_mmol_l < 0.7:\n    pass\n")
    found = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and n.value not in ALLOWED_LITERALS
    ]
    assert found == [0.7]
