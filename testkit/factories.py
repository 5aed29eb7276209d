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
