"""Valid request bodies, varied by a counter so every NIK is unique."""

import itertools
from datetime import date, timedelta

_serial = itertools.count(1)


def nik_for(birth: date, sex: str, serial: int | None = None) -> str:
    day = birth.day + (40 if sex == "P" else 0)
    serial = next(_serial) if serial is None else serial
    return f"350104{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def person(**overrides) -> dict:
    birth = date.fromisoformat(overrides.pop("birth_date", "1950-03-14"))
    sex = overrides.pop("sex", "P")
    body = {
        "nik": nik_for(birth, sex),
        "kk": "3501041203040005",
        "name": "Mbah Sainem",
        "birth_date": birth.isoformat(),
        "sex": sex,
        "desa_code": "35.01.04.1001",
        "address": "RT 02 RW 01",
        "phone": "+62 812 3456 7890",
    }
    body.update(overrides)
    return body


def case(beneficiary_id: str, **overrides) -> dict:
    body = {
        "beneficiary_id": beneficiary_id,
        "pillar": "pkh",
        "referral": {"source": "musdes", "referred_by": "Kepala Desa", "reason": "lives alone, no income"},
        "categories": ["lansia_terlantar", "fakir_miskin"],
        "priority": "high",
    }
    body.update(overrides)
    return body


def assessment(**overrides) -> dict:
    body = {"needs": ["basic_needs", "care"], "risk": "high", "summary": "needs food and daily care",
            "desil": {"value": 1, "period": "2026Q3"}}
    body.update(overrides)
    return body


def aid(**overrides) -> dict:
    body = {"component": "basic_needs", "item": "paket sembako", "quantity": 1, "unit": "paket",
            "value_idr": 300000, "funding_source": "apbd", "given_on": date.today().isoformat()}
    body.update(overrides)
    return body


def follow_up(**overrides) -> dict:
    body = {"due_on": (date.today() + timedelta(days=14)).isoformat(), "purpose": "check the package was used"}
    body.update(overrides)
    return body


# Bulk import files (pilar/api/bulk/): rows in the `cases` template's columns, made up, never real people.
DESA = ("35.01.04.1001", "35.01.04.1002", "35.01.01.2001")
# Each deliberate mistake: (the column it breaks, the broken value, the field the report must name).
ROW_MISTAKES = (
    ("nik", "35010412", "nik"),
    ("desa_code", "35.01.99.9999", "desa_code"),
    ("referral.source", "tetangga", "referral.source"),
    ("birth_date", "1950-02-30", "birth_date"),
    ("categories", "lansia_terlantar;bukan_kategori", "categories"),
    ("sex", "X", "sex"),
)


def case_rows(count: int, *, bad_every: int = 0, pillar: str = "pkh", first_serial: int = 1) -> tuple[list[dict], dict]:
    """`count` rows of the cases template and {row number: the field its mistake breaks}: every
    `bad_every`-th row (0: none) carries one mistake. Row numbers are a spreadsheet's (header = 1)."""
    rows, bad = [], {}
    for i in range(count):
        k = first_serial + i  # the person's number across files: NIKs stay unique however files are cut
        birth = date(1940 + k % 40, 1 + k % 12, 1 + k % 28)
        sex = "P" if k % 2 else "L"
        row = {
            "nik": nik_for(birth, sex, (k - 1) % 9999 + 1), "kk": "3501041203040005",
            "name": f"Warga Contoh {i}", "birth_date": birth.isoformat(), "sex": sex, "desa_code": DESA[i % len(DESA)],
            "address": f"RT {i % 9 + 1:02d} RW 01", "phone": "", "pillar": pillar, "referral.source": "musdes",
            "referral.referred_by": "Kepala Desa", "referral.reason": "tinggal sendiri",
            "categories": "lansia_terlantar;fakir_miskin", "priority": "high", "lawful_basis": "",
            "external_id": f"{pillar}-{first_serial + i}",
        }
        if bad_every and i % bad_every == bad_every - 1:
            column, value, field = ROW_MISTAKES[(i // bad_every) % len(ROW_MISTAKES)]
            row[column] = value
            bad[i + 2] = field
        rows.append(row)
    return rows, bad
