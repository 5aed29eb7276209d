"""A small demo regency for newcomers: a user per role and pillar, a few dozen cases telling
the story of SPEC §0 (elderly, disabled and ODGJ beneficiaries, sembako and self-care packages,
two three-wheeled motorbikes, follow-ups, referrals between pillars, closures).

Everything goes through the application service, so every rule and validation applies."""

import random
from datetime import date, timedelta

from pilar.cases import vocab
from pilar.cases.access import SYSTEM, Actor
from pilar.cases.application import PilarApplication
from pilar.cases.clock import today_in_jakarta
from pilar.cases.errors import DuplicateNik, RuleBroken

DEMO_PASSWORD = "demo-password"

GIVEN_NAMES_P = ["Sainem", "Painem", "Tukinah", "Sumiyati", "Wagiyem", "Sarmi", "Katinem", "Suparmi", "Rukmini", "Sutini"]
GIVEN_NAMES_L = ["Paiman", "Sukiman", "Tukiyo", "Wagimin", "Sarno", "Kasiman", "Suparno", "Jumadi", "Slamet", "Paijo"]

# (category, needs, aid items) per kind of beneficiary in the story.
PROFILES = [
    ("lansia_terlantar", ["basic_needs", "care"],
     [("basic_needs", "paket sembako", 1, "paket", 300_000), ("care", "paket perawatan diri", 1, "paket", 150_000)]),
    ("penyandang_disabilitas", ["accessibility", "basic_needs"],
     [("accessibility", "kursi roda", 1, "unit", 1_750_000), ("basic_needs", "paket sembako", 1, "paket", 300_000)]),
    ("odgj", ["therapy", "care"],
     [("therapy", "pendampingan berobat ke RSJ", 1, "kali", 200_000), ("care", "paket perawatan diri", 1, "paket", 150_000)]),
    ("fakir_miskin", ["basic_needs", "vocational"],
     [("basic_needs", "paket sembako", 2, "paket", 600_000), ("vocational", "modal usaha warung", 1, "paket", 2_500_000)]),
]


# The demo's kecamatan-scoped TKSK: a TKSK serves one kecamatan (SPEC §1), here Pacitan.
DEMO_TKSK_KECAMATAN = ("35.01.04",)


def demo_staff() -> dict[str, tuple[str, str | None, tuple[str, ...], bool | None]]:
    """username: (role, pillar, kecamatan, pii); pii None: the role's default (pilar/cases/account.py)."""
    staff: dict[str, tuple[str, str | None, tuple[str, ...], bool | None]] = {
        "dinsos": ("supervisor", None, (), None),
        "inspektorat": ("auditor", None, (), None),  # without pii: NIK and KK masked, phone and address hidden
        "inspektorat.pii": ("auditor", None, (), True),  # an auditor an admin let read identifiers in clear
        "tksk.pacitan": ("worker", "tksk", DEMO_TKSK_KECAMATAN, None),  # TKSK of kecamatan Pacitan only
    }
    for pillar in vocab.PILLARS:
        staff[f"{pillar}.pendamping"] = ("worker", pillar, (), None)
        staff[f"{pillar}.koordinator"] = ("supervisor", pillar, (), None)
    return staff


def load_demo(app: PilarApplication, *, seed: int = 2024, people: int = 40) -> list[str]:
    staff = demo_staff()
    added = 0
    for name, (role, pillar, kecamatan, pii) in staff.items():
        try:
            app.add_user(SYSTEM, name, role, pillar, DEMO_PASSWORD, kecamatan=kecamatan, pii=pii)
            added += 1
        except RuleBroken:
            pass  # loaded before: keep the existing account
    workers = {pillar: Actor(f"{pillar}.pendamping", "worker", pillar) for pillar in vocab.PILLARS}
    villages = app.wilayah.villages()
    today = today_in_jakarta()
    counts = {"beneficiaries": 0, "cases": 0, "aid": 0, "motorbikes": 0, "referrals": 0, "closed": 0}

    for n in range(people):
        # One generator per person: a person already loaded leaves the others unchanged.
        rng = random.Random(f"{seed}:{n}")
        category, needs, items = PROFILES[n % len(PROFILES)]
        pillar = rng.choice(("pkh", "tksk", "psm", "pendamping_sosial")) if n % 5 else rng.choice(vocab.PILLARS)
        worker = workers[pillar]
        sex = rng.choice(vocab.SEXES)
        age = rng.randint(62, 88) if category == "lansia_terlantar" else rng.randint(19, 60)
        birth = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
        village = rng.choice(villages)
        nik = _nik(rng, birth, sex, seed * 10_000 + n)
        names = GIVEN_NAMES_P if sex == "P" else GIVEN_NAMES_L
        try:
            person = app.register_beneficiary(
                worker, nik=nik, name=f"{rng.choice(names)} ({village.name})", birth_date=birth, sex=sex,
                desa_code=village.code, address=f"RT {rng.randint(1, 9):02d} RW {rng.randint(1, 5):02d}",
            )
        except DuplicateNik:
            continue  # the same seed loaded twice
        counts["beneficiaries"] += 1
        case = app.open_case(
            worker, beneficiary_id=person.id, pillar=pillar,
            referral={"source": rng.choice(("musdes", "outreach", "puskesmas", "hotline")),
                      "referred_by": "Kepala Desa " + village.name, "reason": f"{category.replace('_', ' ')}"},
            categories=[category], priority=rng.choice(vocab.PRIORITIES),
        )
        counts["cases"] += 1
        app.assign_case(worker, case.id, worker=worker.username)
        if n % 7 == 6:
            continue  # still waiting for an assessment
        app.assess_case(worker, case.id, needs=needs, risk=rng.choice(vocab.RISKS), summary=f"asesmen {category}",
                        desil={"value": rng.randint(1, 3), "period": "2026Q3"})
        for component, item, quantity, unit, value in items[: rng.randint(1, len(items))]:
            app.give_aid(worker, case.id, component=component, item=item, quantity=quantity, unit=unit,
                         value_idr=value, funding_source=rng.choice(("apbd", "apbn", "csr")),
                         given_on=today - timedelta(days=rng.randint(0, 60)))
            counts["aid"] += 1
        if category == "penyandang_disabilitas" and counts["motorbikes"] < 2:
            app.give_aid(worker, case.id, component="accessibility", item="sepeda motor roda tiga", quantity=1,
                         unit="unit", value_idr=27_500_000, funding_source="csr", given_on=today - timedelta(days=3))
            counts["motorbikes"] += 1
            counts["aid"] += 1
        app.schedule_follow_up(worker, case.id, due_on=today + timedelta(days=rng.randint(1, 45)),
                               purpose="kunjungan rumah")
        if n % 6 == 1:
            to_pillar = rng.choice([p for p in ("pkh", "tksk", "psm", "tagana") if p != pillar])
            referral = app.send_referral(worker, case.id, to_pillar=to_pillar, reason="butuh pendampingan lanjutan")
            counts["referrals"] += 1
            if n % 12 == 1:
                app.accept_referral(workers[to_pillar], case.id, referral.extra["referral_id"])
        elif n % 9 == 4:
            app.close_case(worker, case.id, outcome=rng.choice(("graduated", "moved_away")), note="selesai")
            counts["closed"] += 1

    lines = [f"demo users: {added} added, password for each: {DEMO_PASSWORD!r}",
             "  " + ", ".join(sorted(staff))]
    lines.append("demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return lines


def _nik(rng: random.Random, birth: date, sex: str, serial: int) -> str:
    day = birth.day + (40 if sex == "P" else 0)
    return f"3501{rng.randint(1, 12):02d}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial % 9999 + 1:04d}"
