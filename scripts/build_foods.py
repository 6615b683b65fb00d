"""Build the compact food table shipped in ``mgcare.diet`` from USDA SR28 ASCII files.

The package must work without the raw SR28 release, so this script derives one
small, reproducible file (``src/mgcare/diet/data/foods.json.gz``) that is
committed with the code. Run it again only when the source data changes::

    python scripts/build_foods.py [path/to/usda_sr28]

The output is byte-for-byte deterministic: no build date, sorted keys, gzip
header without file name or timestamp.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SR28_DIR = REPO_ROOT.parent / "shared" / "data" / "usda_sr28"
OUTPUT_PATH = REPO_ROOT / "src" / "mgcare" / "diet" / "data" / "foods.json.gz"
FORMAT_VERSION = 1

# SR28 Nutr_No -> column name in the shipped file (all per 100 g edible portion).
NUTRIENT_COLUMNS: dict[str, str] = {
    "208": "energy_kcal",
    "304": "magnesium_mg",
    "309": "zinc_mg",
    "301": "calcium_mg",
    "306": "potassium_mg",
}


@dataclass(frozen=True, slots=True)
class SourceFood:
    """One FOOD_DES record, reduced to the fields the package ships."""

    ndb_no: str
    group_code: str
    long_description: str
    short_description: str
    common_names: str


@dataclass(frozen=True, slots=True)
class SourcePortion:
    """One WEIGHT record: ``amount`` x ``description`` weighs ``grams``."""

    sequence: int
    amount: float
    description: str
    grams: float


def read_sr28_rows(handle: TextIO) -> Iterator[list[str]]:
    """Yield SR28 records: ``^``-separated, ``~``-quoted, no header row."""
    yield from csv.reader(handle, delimiter="^", quotechar="~")


def open_sr28(path: Path) -> TextIO:
    """Open an SR28 file (plain or gzipped) as latin-1 text, as USDA publishes it."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="latin-1", newline="")
    return path.open(encoding="latin-1", newline="")


def find_file(sr28_dir: Path, stem: str) -> Path:
    """Locate ``stem.txt`` or ``stem.txt.gz`` in the SR28 folder."""
    for candidate in (sr28_dir / f"{stem}.txt", sr28_dir / f"{stem}.txt.gz"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{stem}.txt(.gz) not found in {sr28_dir}")


def read_food_groups(sr28_dir: Path) -> dict[str, str]:
    """FD_GROUP: food group code -> name."""
    with open_sr28(find_file(sr28_dir, "FD_GROUP")) as handle:
        return {row[0]: row[1] for row in read_sr28_rows(handle)}


def read_foods(sr28_dir: Path) -> list[SourceFood]:
    """FOOD_DES, sorted by NDB number so the output order is stable."""
    with open_sr28(find_file(sr28_dir, "FOOD_DES")) as handle:
        foods = [
            SourceFood(
                ndb_no=row[0],
                group_code=row[1],
                long_description=row[2],
                short_description=row[3],
                common_names=row[4],
            )
            for row in read_sr28_rows(handle)
        ]
    return sorted(foods, key=lambda food: food.ndb_no)


def read_nutrients(sr28_dir: Path) -> dict[str, dict[str, float]]:
    """NUT_DATA restricted to the shipped nutrients: NDB number -> column -> value."""
    values: dict[str, dict[str, float]] = {}
    with open_sr28(find_file(sr28_dir, "NUT_DATA")) as handle:
        for row in read_sr28_rows(handle):
            column = NUTRIENT_COLUMNS.get(row[1])
            if column is not None:
                values.setdefault(row[0], {})[column] = float(row[2])
    return values


def read_portions(sr28_dir: Path) -> dict[str, list[SourcePortion]]:
    """WEIGHT: NDB number -> household portions in SR28 sequence order."""
    portions: dict[str, list[SourcePortion]] = {}
    with open_sr28(find_file(sr28_dir, "WEIGHT")) as handle:
        for row in read_sr28_rows(handle):
            portions.setdefault(row[0], []).append(
                SourcePortion(
                    sequence=int(row[1]),
                    amount=float(row[2]),
                    description=row[3],
                    grams=float(row[4]),
                )
            )
    for food_portions in portions.values():
        food_portions.sort(key=lambda portion: portion.sequence)
    return portions


def build_payload(sr28_dir: Path) -> dict[str, Any]:
    """Assemble the columnar payload: one list per field, aligned by food index.

    Columnar lists keep the file small and make loading a single ``json.loads``.
    Portions are flattened; ``portion_offsets[i]:portion_offsets[i + 1]`` are the
    portions of food ``i``.
    """
    groups = read_food_groups(sr28_dir)
    foods = read_foods(sr28_dir)
    nutrients = read_nutrients(sr28_dir)
    portions = read_portions(sr28_dir)

    unknown_groups = {food.group_code for food in foods} - groups.keys()
    if unknown_groups:
        raise ValueError(f"FOOD_DES uses unknown food groups: {sorted(unknown_groups)}")
    unknown_portion_foods = portions.keys() - {food.ndb_no for food in foods}
    if unknown_portion_foods:
        raise ValueError(f"WEIGHT has foods missing from FOOD_DES: {sorted(unknown_portion_foods)}")

    food_columns: dict[str, list[Any]] = {
        "ndb_no": [],
        "name_en": [],
        "name_short": [],
        "common_names": [],
        "group_code": [],
        **{column: [] for column in NUTRIENT_COLUMNS.values()},
        "portion_offsets": [0],
    }
    portion_columns: dict[str, list[Any]] = {"amount": [], "description": [], "grams": []}
    for food in foods:
        food_columns["ndb_no"].append(food.ndb_no)
        food_columns["name_en"].append(food.long_description)
        food_columns["name_short"].append(food.short_description)
        food_columns["common_names"].append(food.common_names)
        food_columns["group_code"].append(food.group_code)
        food_nutrients = nutrients.get(food.ndb_no, {})
        for column in NUTRIENT_COLUMNS.values():
            food_columns[column].append(food_nutrients.get(column))
        for portion in portions.get(food.ndb_no, []):
            portion_columns["amount"].append(portion.amount)
            portion_columns["description"].append(portion.description)
            portion_columns["grams"].append(portion.grams)
        food_columns["portion_offsets"].append(len(portion_columns["amount"]))

    counts = {
        "foods": len(foods),
        "portions": len(portion_columns["amount"]),
        "food_groups": len(groups),
        **{
            f"foods_with_{column}": sum(value is not None for value in food_columns[column])
            for column in NUTRIENT_COLUMNS.values()
        },
    }
    provenance = {
        "source": "USDA National Nutrient Database for Standard Reference, Release 28 "
        "(SR28), ASCII files",
        "publisher": "USDA Agricultural Research Service, Nutrient Data Laboratory",
        "licence": "US public domain",
        "files": ["FOOD_DES", "FD_GROUP", "NUT_DATA", "WEIGHT"],
        "nutrients": {column: f"SR28 Nutr_No {nr}" for nr, column in NUTRIENT_COLUMNS.items()},
        "basis": "per 100 g edible portion; null = SR28 has no value",
        "portions": "WEIGHT.txt: amount x description (Msre_Desc) weighs grams (Gm_Wgt)",
        "counts": counts,
    }
    return {
        "format_version": FORMAT_VERSION,
        "provenance": provenance,
        "food_groups": groups,
        "foods": food_columns,
        "portions": portion_columns,
    }


def encode_payload(payload: dict[str, Any]) -> bytes:
    """Serialize reproducibly: sorted keys, compact JSON, gzip without name or mtime."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sr28_dir", nargs="?", type=Path, default=DEFAULT_SR28_DIR)
    parser.add_argument("--output", type=Path, default=OUTPUT_PATH)
    args = parser.parse_args(argv)
    payload = build_payload(args.sr28_dir)
    data = encode_payload(payload)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    counts = payload["provenance"]["counts"]
    print(f"wrote {args.output} ({len(data):,} bytes): {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
