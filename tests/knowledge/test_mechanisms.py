"""The review's Figure 1 as cited data: complete, cross-referenced, a well-formed graph."""

from __future__ import annotations

from typing import Any

from mgcare.knowledge import Knowledge, read_pack_file
from mgcare.knowledge.models import Mechanisms
from mgcare.knowledge.pack import mechanism_problems


def raw() -> dict[str, Any]:
    return read_pack_file("mechanisms.toml")


def problems(data: dict[str, Any], knowledge: Knowledge) -> list[str]:
    return mechanism_problems(
        Mechanisms.model_validate(data), set(knowledge.references), set(knowledge.claims_by_id)
    )


def test_four_cited_pathways_of_claim_1_2_7(knowledge: Knowledge) -> None:
    figure = knowledge.mechanisms
    assert [p.id for p in figure.pathway] == [
        "sympathetic",
        "vascular-tone",
        "kidney-aldosterone",
        "inflammation",
    ]
    assert [p.sources for p in figure.pathway] == [["R31"], ["R21"], ["R32"], ["R33"]]
    claim = knowledge.claims_by_id[figure.claim]
    assert claim.status == "SEED" and figure.status == "SEED"
    assert {s for p in figure.pathway for s in p.sources} == set(claim.references)
    labels = " ".join(n.label_en for p in figure.pathway for n in p.node)
    for mechanism in (
        "NMDA",
        "N-type",
        "L-type",
        "prostacyclin",
        "nitric oxide",
        "T-type",
        "ROMK",
        "NLRP3",
        "caspase-1",
        "IL-1β",
    ):
        assert mechanism in labels
    assert figure.outcome_zh == "血压下降"
    for pathway in figure.pathway:
        for node in pathway.node:
            assert node.label_en and node.label_zh and node.source in pathway.sources


def test_shipped_graph_has_no_problems(knowledge: Knowledge) -> None:
    assert problems(raw(), knowledge) == []


def test_unknown_source_and_claim_are_caught(knowledge: Knowledge) -> None:
    data = raw()
    data["claim"] = "9.9.9"
    data["pathway"][0]["node"][0]["source"] = "R999"
    found = problems(data, knowledge)
    assert any("unknown claim '9.9.9'" in p for p in found)
    assert any("unknown source 'R999'" in p for p in found)


def test_loose_ends_and_cycles_are_caught(knowledge: Knowledge) -> None:
    data = raw()
    inflammation = data["pathway"][3]
    inflammation["edge"] = [e for e in inflammation["edge"] if e["to"] != "outcome"]
    found = problems(data, knowledge)
    assert any("does not lead to the outcome" in p for p in found)

    data = raw()
    data["pathway"][3]["edge"].append({"from": "il-1b", "to": "nlrp3", "source": "R33"})
    assert any("cycle" in p for p in problems(data, knowledge))

    data = raw()
    data["pathway"][3]["edge"].append({"from": "il-1b", "to": "nowhere", "source": "R33"})
    assert any("unknown end 'nowhere'" in p for p in problems(data, knowledge))
