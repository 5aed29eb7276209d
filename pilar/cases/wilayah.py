"""The regency's kecamatan and desa/kelurahan, read from a Kemendagri wilayah CSV (code,name,level)."""

import csv
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WILAYAH_CSV = Path(__file__).parent / "data" / "pacitan_wilayah.csv"
VILLAGE_LEVELS = ("desa", "kelurahan")


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    level: str


class Wilayah:
    def __init__(self, regency: Area, areas: dict[str, Area]):
        self.regency = regency
        self._areas = areas

    @classmethod
    def from_csv(cls, path: Path | str = DEFAULT_WILAYAH_CSV) -> "Wilayah":
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = {"code", "name", "level"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            rows = [Area(r["code"].strip(), r["name"].strip(), r["level"].strip()) for r in reader]
        regencies = [a for a in rows if a.level in ("kabupaten", "kota")]
        if len(regencies) != 1:
            raise ValueError(f"{path}: expected exactly one kabupaten/kota row, found {len(regencies)}")
        areas = {a.code: a for a in rows}
        for a in rows:
            if a.level in VILLAGE_LEVELS and kecamatan_code_of(a.code) not in areas:
                raise ValueError(f"{path}: desa {a.code} has no kecamatan row")
        return cls(regencies[0], areas)

    def village(self, code: str) -> Area | None:
        area = self._areas.get(code)
        return area if area and area.level in VILLAGE_LEVELS else None

    def is_kecamatan(self, code: str) -> bool:
        area = self._areas.get(code)
        return area is not None and area.level == "kecamatan"

    def area(self, code: str) -> Area | None:
        """The kecamatan, desa or kelurahan with this code (its name for pages and lists)."""
        return self._areas.get(code)

    def kecamatans(self) -> list[Area]:
        return [a for a in self._areas.values() if a.level == "kecamatan"]

    def villages(self) -> list[Area]:
        return [a for a in self._areas.values() if a.level in VILLAGE_LEVELS]

    def kecamatan(self) -> list[tuple[Area, list[Area]]]:
        """Each kecamatan with its desa and kelurahan, both in code order."""
        villages: dict[str, list[Area]] = {}
        for area in sorted(self.villages(), key=lambda a: a.code):
            villages.setdefault(kecamatan_code_of(area.code), []).append(area)
        return [(a, villages.get(a.code, [])) for a in sorted(self._areas.values(), key=lambda a: a.code)
                if a.level == "kecamatan"]


def kecamatan_code_of(desa_code: str) -> str:
    return desa_code.rsplit(".", 1)[0]
