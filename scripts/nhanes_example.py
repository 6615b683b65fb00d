"""NHANES 2017-2018 worked example for `mgcare screen` (see src/mgcare/screen/nhanes.py).

    python scripts/nhanes_example.py [--data ../shared/data/nhanes_2017_2018] [--out DIR]

Prints the survey-weighted mean day-1 magnesium intake and the share below the US EAR by DRI
age/sex group (with Taylor-linearised SEs), checks the published adult means, then screens the
adults' kidney function with `mgcare screen` and the NHANES design (strata, PSUs, MEC weights).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

from mgcare.knowledge import load_knowledge
from mgcare.screen import nhanes
from mgcare.screen.command import run_screen

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "nhanes_2017_2018"
AS_OF = date(2018, 12, 31)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not (args.data / nhanes.FILES["demo"]).exists():
        sys.exit(f"NHANES files not found in {args.data}")
    knowledge = load_knowledge()
    frame = nhanes.load(args.data)
    print("Day-1 magnesium intake (foods and beverages), NHANES 2017-2018, reliable recalls,")
    print(
        f"WTDRD1 weights, SDMVSTRA/SDMVPSU design; EAR: {nhanes.STANDARD} from the knowledge pack"
    )
    for line in nhanes.format_intake(nhanes.intake_by_group(frame, knowledge)):
        print(line)
    print(
        "One day's intake overstates the share below the EAR (usual intake needs the NCI method)."
    )
    means = nhanes.adult_mean_by_sex(frame)
    print(
        "Adults 20+: mean "
        + ", ".join(f"{sex} {e.estimate:.1f} mg (SE {e.se:.1f})" for sex, e in means.items())
        + "; published WWEIA 2017-2018: male 342.5, female 271.4"
    )
    out = args.out or Path(tempfile.mkdtemp(prefix="mgcare-nhanes-"))
    paths = nhanes.screening_tables(frame, out / "tables")
    print(
        f"\nScreening adults 20+ with serum creatinine (MEC weights WTMEC2YR) -> {out / 'screen'}"
    )
    summary = run_screen(
        paths["persons"],
        paths["labs"],
        None,
        paths["conditions"],
        out / "screen",
        "duckdb",
        AS_OF,
        None,
        False,
    )
    for line in summary.lines():
        print(line)


if __name__ == "__main__":
    main()
