"""`make long-case`: what a case of 5,000 events costs against a short one (issue 14: a long case
writes within 2× a short case's p50, and its GET answers within 50 ms and 64 KB).

Per store (BENCH_STORES, default sqlite,postgres): one case grown to BENCH_LONG_EVENTS (default
5,000) events the way field work grows one (aid, follow-ups scheduled and completed, in turns),
and one short case of 10 events; then, in turns so that the machine's state is shared, aid
writes through the application service (load, decide, save, snapshot every 50 events) and GETs
of both through the API in-process (Flask's test client: the app's own time, no HTTP server).
Prints p50/p99 and the GET's size; writes bench/long_case.json."""

import json
import os
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.stores import drop, fresh_settings
from pilar.bootstrap import bootstrap
from pilar.cases.access import SYSTEM, Actor
from pilar.settings import PROJECT_ROOT
from testkit import factories
from pilar.wsgi import create_app

EVENTS = int(os.environ.get("BENCH_LONG_EVENTS", "5000"))
ROUNDS = int(os.environ.get("BENCH_LONG_ROUNDS", "200"))
PASSWORD = "bench-long-case-password"


def _case(app, worker: Actor) -> object:
    body = factories.person()
    person = app.register_beneficiary(worker, nik=body["nik"], name=body["name"], sex=body["sex"],
                                      birth_date=date.fromisoformat(body["birth_date"]), desa_code=body["desa_code"])
    case_id = app.open_case(worker, beneficiary_id=person.id, pillar="pkh", priority="normal",
                            referral={"source": "musdes", "referred_by": "Kades", "reason": "bench"},
                            categories=["lansia_terlantar"]).id
    app.assess_case(worker, case_id, needs=["care"], risk="low", summary="bench")
    return case_id


def _grow(app, worker: Actor, case_id, events: int) -> None:
    due = date.today() + timedelta(days=14)
    while app.get_case(worker, case_id).version < events:
        app.give_aid(worker, case_id, component="care", item="paket", quantity=1, unit="paket", value_idr=150_000,
                     funding_source="apbd", given_on=date.today())
        follow_up = app.schedule_follow_up(worker, case_id, due_on=due, purpose="kunjungan rumah")
        app.complete_follow_up(worker, case_id, follow_up.extra["follow_up_id"], outcome="stable", notes="baik")


def _ms(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2)}


def measure(kind: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = fresh_settings(kind, Path(tmp))
        services = bootstrap(settings)
        try:
            app = services.cases
            app.add_user(SYSTEM, "bench.long", "worker", "pkh", PASSWORD)
            worker = Actor("bench.long", "worker", "pkh")
            cases = {"short": _case(app, worker), "long": _case(app, worker)}
            _grow(app, worker, cases["short"], 10)
            print(f"[{kind}] growing a case to {EVENTS} events", flush=True)
            _grow(app, worker, cases["long"], EVENTS)
            client = create_app(services).test_client()
            token = client.post("/api/v1/auth/token", json={"username": "bench.long", "password": PASSWORD}).json
            headers = {"Authorization": f"Bearer {token['token']}"}
            writes: dict[str, list[float]] = {"short": [], "long": []}
            gets: dict[str, list[float]] = {"short": [], "long": []}
            size = {}
            for _ in range(ROUNDS):
                for name, case_id in cases.items():
                    start = time.perf_counter()
                    app.give_aid(worker, case_id, component="care", item="paket", quantity=1, unit="paket",
                                 value_idr=150_000, funding_source="apbd", given_on=date.today())
                    writes[name].append(time.perf_counter() - start)
                    start = time.perf_counter()
                    answer = client.get(f"/api/v1/cases/{case_id}", headers=headers)
                    gets[name].append(time.perf_counter() - start)
                    size[name] = len(answer.get_data())
            result = {"store": kind, "events": app.get_case(worker, cases["long"]).version}
            for name in cases:
                result[name] = {"write": _ms(writes[name]), "get": _ms(gets[name]), "get_bytes": size[name]}
            result["write_p50_ratio"] = round(result["long"]["write"]["p50_ms"] / result["short"]["write"]["p50_ms"], 2)
            return result
        finally:
            services.close()
            drop(settings)


def main() -> None:
    results = [measure(kind) for kind in os.environ.get("BENCH_STORES", "sqlite,postgres").split(",")]
    (PROJECT_ROOT / "bench" / "long_case.json").write_text(json.dumps(results, indent=2))
    for r in results:
        long, short = r["long"], r["short"]
        print(f"{r['store']}: {r['events']}-event case: write p50 {long['write']['p50_ms']} ms against "
              f"{short['write']['p50_ms']} ms short ({r['write_p50_ratio']}×, target ≤ 2); GET p50 "
              f"{long['get']['p50_ms']} ms (target ≤ 50), {long['get_bytes'] / 1024:.1f} KB (target ≤ 64)")


if __name__ == "__main__":
    main()
