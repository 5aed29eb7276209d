"""A realistic, reproducible regency for benchmarks: the 172 desa of the wilayah CSV, the 8
pillars, PPKS categories and aid mixes in plausible proportions, written through the
application service (every rule applies), with a progress bar."""

import io
import random
from datetime import date, timedelta

import click

from pilar.cases import vocab
from pilar.cases.access import SYSTEM, Actor
from pilar.cases.application import PilarApplication
from pilar.cases.clock import today_in_jakarta
from pilar.cases.errors import PilarError, RuleBroken

# How often each pillar takes a new case, and what people it serves (rough field proportions).
PILLAR_WEIGHTS = {"pkh": 30, "tksk": 20, "psm": 15, "pendamping_sosial": 12, "tagana": 8, "karang_taruna": 6,
                  "fk_lksa": 5, "pelopor_perdamaian": 4}
CATEGORY_WEIGHTS = {"fakir_miskin": 35, "lansia_terlantar": 20, "penyandang_disabilitas": 12, "odgj": 8,
                    "anak_terlantar": 6, "korban_bencana_alam": 6, "perempuan_rawan_sosial_ekonomi": 5,
                    "keluarga_bermasalah_psikologis": 4, "anak_disabilitas": 4}
AID = [("basic_needs", "paket sembako", "paket", 300_000, 40), ("care", "paket perawatan diri", "paket", 150_000, 20),
       ("social_assistance", "bantuan tunai", "kali", 600_000, 12), ("therapy", "pendampingan berobat", "kali", 200_000, 8),
       ("vocational", "modal usaha", "paket", 2_500_000, 6), ("accessibility", "kursi roda", "unit", 1_750_000, 5),
       ("accessibility", "sepeda motor roda tiga", "unit", 27_500_000, 1), ("family_support", "konseling keluarga", "kali", 100_000, 8)]
BENCH_PASSWORD = "bench-password-1"


def ensure_staff(app: PilarApplication) -> dict[str, Actor]:
    workers = {}
    for pillar in vocab.PILLARS:
        name = f"bench.{pillar}"
        try:
            app.add_user(SYSTEM, name, "worker", pillar, BENCH_PASSWORD)
        except RuleBroken:
            pass
        workers[pillar] = Actor(name, "worker", pillar)
    return workers


def generate_into(settings, events: int, seed: int, show_progress: bool) -> None:
    """`generate` in an application of its own, closed afterwards."""
    from pilar.bootstrap import bootstrap

    services = bootstrap(settings)

    app = services.cases
    try:
        generate(app, events, seed=seed, show_progress=show_progress)
    finally:
        services.close()


def generate(app: PilarApplication, events: int, *, seed: int = 1, show_progress: bool = True) -> int:
    """Append about `events` events; returns the store's newest position."""
    rng = random.Random(seed)
    workers = ensure_staff(app)
    villages = app.wilayah.villages()
    today = today_in_jakarta()
    start = app.recorder.max_notification_id() or 0
    written = 0
    serial = seed * 1_000_000
    with click.progressbar(length=events, label="generating events", show_pos=True,
                           file=None if show_progress else io.StringIO()) as bar:
        while written < events:
            serial += 1
            before = written
            written += _one_case(app, rng, workers, villages, today, serial)
            bar.update(written - before)
    return app.recorder.max_notification_id() or start


def _one_case(app, rng, workers, villages, today, serial) -> int:
    pillar = rng.choices(list(PILLAR_WEIGHTS), weights=list(PILLAR_WEIGHTS.values()))[0]
    category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
    actor = workers[pillar]
    sex = rng.choice("LP")
    birth = date(rng.randint(1935, 2005), rng.randint(1, 12), rng.randint(1, 28))
    day = birth.day + (40 if sex == "P" else 0)
    nik = f"35{rng.randint(1, 29):02d}{rng.randint(1, 30):02d}{day:02d}{birth.month:02d}{birth.year % 100:02d}" \
          f"{serial % 9999 + 1:04d}"
    village = rng.choice(villages)
    try:
        person = app.register_beneficiary(actor, nik=nik, name=f"Warga {serial}", birth_date=birth, sex=sex,
                                          desa_code=village.code)
    except PilarError:
        return 0
    case = app.open_case(actor, beneficiary_id=person.id, pillar=pillar,
                         referral={"source": rng.choice(("musdes", "outreach", "puskesmas", "hotline", "walk_in")),
                                   "referred_by": "Kepala Desa", "reason": category},
                         categories=[category], priority=rng.choices(vocab.PRIORITIES, weights=(2, 6, 3, 1))[0])
    count = 4
    app.assign_case(actor, case.id, worker=actor.username)
    count += 1
    if rng.random() < 0.85:
        needs = sorted({a[0] for a in rng.sample(AID, 2)})
        app.assess_case(actor, case.id, needs=needs, risk=rng.choice(vocab.RISKS), summary="asesmen",
                        desil={"value": rng.randint(1, 4), "period": "2026Q3"})
        count += 1
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            component, item, unit, value, _w = rng.choices(AID, weights=[a[4] for a in AID])[0]
            app.give_aid(actor, case.id, component=component, item=item, quantity=rng.randint(1, 3), unit=unit,
                         value_idr=value, funding_source=rng.choice(vocab.FUNDING_SOURCES),
                         given_on=today - timedelta(days=rng.randint(0, 300)))
            count += 1
        for _ in range(rng.choice((0, 1, 2))):
            follow_up = app.schedule_follow_up(actor, case.id, due_on=today + timedelta(days=rng.randint(0, 60)),
                                               purpose="kunjungan")
            count += 1
            if rng.random() < 0.5:
                app.complete_follow_up(actor, case.id, follow_up.extra["follow_up_id"],
                                       outcome=rng.choice(vocab.FOLLOW_UP_OUTCOMES), notes="")
                count += 1
    if rng.random() < 0.1:
        to = rng.choice([p for p in vocab.PILLARS if p != pillar])
        referral = app.send_referral(actor, case.id, to_pillar=to, reason="lanjutan")
        count += 1
        if rng.random() < 0.6:
            app.accept_referral(workers[to], case.id, referral.extra["referral_id"])
            count += 1
    elif rng.random() < 0.2:
        app.close_case(actor, case.id, outcome=rng.choice(vocab.CLOSURE_OUTCOMES), note="")
        count += 1
    return count
