"""The workload views: what they show, that they equal a rebuild, and reading one's own writes."""

from datetime import date, timedelta
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from pilar.api.workloads import PillarDetail, PillarSummary, WorkloadSummary
from pilar.cases import clock
from pilar.cases.errors import PilarError
from pilar.projections import service as read_service
from pilar.projections.maintenance import check, rebuild
from testkit import factories


def _person(service, actor, n: int, desa: str = "35.01.04.1001") -> UUID:
    body = factories.person(birth_date=f"19{40 + n % 50}-02-{1 + n % 28:02d}")
    return service.register_beneficiary(
        actor, nik=body["nik"], name=body["name"], birth_date=date.fromisoformat(body["birth_date"]),
        sex=body["sex"], desa_code=desa).id


def _open(service, actor, person: UUID, pillar: str = "pkh", priority: str = "normal") -> UUID:
    return service.open_case(actor, beneficiary_id=person, pillar=pillar, priority=priority,
                             referral={"source": "musdes", "referred_by": "Kades", "reason": "x"},
                             categories=["fakir_miskin"]).id


def _assess(service, actor, case_id: UUID) -> None:
    service.assess_case(actor, case_id, needs=["basic_needs"], risk="high", summary="s")


def _aid(service, actor, case_id: UUID, value: int = 300_000, item: str = "paket sembako") -> None:
    service.give_aid(actor, case_id, component="basic_needs", item=item, quantity=2, unit="paket", value_idr=value,
                     funding_source="apbd", given_on=date.today())


def test_workload_counts_open_cases_by_status_kecamatan_worker_and_aid(service, staff, catch_up, client, auth):
    wati, joko = staff["wati"], staff["joko"]
    referred = _open(service, wati, _person(service, wati, 1))
    assessed = _open(service, wati, _person(service, wati, 2, desa="35.01.01.2001"))
    _assess(service, wati, assessed)
    aided = _open(service, wati, _person(service, wati, 3))
    service.assign_case(wati, aided, worker="wati")
    _assess(service, wati, aided)
    _aid(service, wati, aided)
    _aid(service, wati, aided, value=1_750_000, item="kursi roda")
    closed = _open(service, wati, _person(service, wati, 4))
    service.close_case(wati, closed, outcome="duplicate", note="")
    _open(service, joko, _person(service, joko, 5), pillar="tksk")
    position = catch_up()

    response = client.get("/api/v1/workloads/pkh", headers=auth("sri"))
    assert response.mimetype == "application/json"
    answer = response.json
    assert set(answer) == set(PillarDetail().fields)
    assert answer["position"] == position and answer["lag"] == 0
    assert answer["open_cases"] == 3
    assert answer["open_by_status"] == {"referred": 1, "assessed": 1, "aided": 1}
    assert answer["open_by_kecamatan"] == {"35.01.01": 1, "35.01.04": 2}
    assert answer["open_by_worker"] == {"(unassigned)": 2, "wati": 1}
    assert answer["opened_this_month"] == 4 and answer["closed_this_month"] == 1
    assert answer["median_days_referral_to_assessment"] == 0
    assert answer["aid_by_component"] == {"basic_needs": {"count": 2, "value_idr": 2_050_000}}
    assert {(a["item"], a["quantity"], a["value_idr"]) for a in answer["aid_by_item"]} == {
        ("paket sembako", 2, 300_000), ("kursi roda", 2, 1_750_000)}

    summary = client.get("/api/v1/workloads", headers=auth("dinsos")).json
    assert set(summary) == set(WorkloadSummary().fields)
    assert all(set(p) == set(PillarSummary().fields) for p in summary["pillars"])
    by_pillar = {p["pillar"]: p for p in summary["pillars"]}
    assert set(by_pillar) == {"tagana", "karang_taruna", "pkh", "tksk", "psm", "pendamping_sosial",
                              "pelopor_perdamaian", "fk_lksa"}
    assert by_pillar["tksk"]["open_cases"] == 1 and by_pillar["pkh"]["open_cases"] == 3
    assert referred and closed


def test_scope_of_workload_reads(service, staff, catch_up, client, auth):
    catch_up()
    assert [p["pillar"] for p in client.get("/api/v1/workloads", headers=auth("sri")).json["pillars"]] == ["pkh"]
    assert [p["pillar"] for p in client.get("/api/v1/workloads", headers=auth("wati")).json["pillars"]] == ["pkh"]
    assert client.get("/api/v1/workloads/tksk", headers=auth("sri")).status_code == 403
    assert client.get("/api/v1/workloads/tksk", headers=auth("inspektur")).status_code == 200
    assert client.get("/api/v1/workloads", headers=auth("root")).status_code == 403
    assert client.get("/api/v1/workloads/nope", headers=auth("dinsos")).status_code == 404
    assert client.get("/api/v1/workloads").status_code == 401


def test_overdue_is_judged_at_query_time(service, staff, catch_up, client, auth, monkeypatch):
    wati = staff["wati"]
    case_id = _open(service, wati, _person(service, wati, 1))
    due = date.today() + timedelta(days=3)
    service.schedule_follow_up(wati, case_id, due_on=due, purpose="visit")
    catch_up()
    assert client.get("/api/v1/workloads/pkh", headers=auth("sri")).json["overdue_follow_ups"] == 0
    # A new day in Jakarta (the clock every read asks, kept answers included).
    monkeypatch.setattr(clock, "today_in_jakarta", lambda: due + timedelta(days=1))
    assert client.get("/api/v1/workloads/pkh", headers=auth("sri")).json["overdue_follow_ups"] == 1
    queue = client.get("/api/v1/follow-ups", headers=auth("wati")).json
    assert [(i["case_id"], i["overdue"]) for i in queue["items"]] == [(str(case_id), True)]


def test_accepted_referral_moves_the_case_between_pillar_workloads(service, staff, catch_up, client, auth):
    wati, joko = staff["wati"], staff["joko"]
    case_id = _open(service, wati, _person(service, wati, 1))
    service.schedule_follow_up(wati, case_id, due_on=date.today() + timedelta(days=1), purpose="visit")
    referral = service.send_referral(wati, case_id, to_pillar="tksk", reason="needs TKSK")
    catch_up()
    assert client.get("/api/v1/workloads/pkh", headers=auth("sri")).json["open_cases"] == 1
    accepted = service.accept_referral(joko, case_id, referral.extra["referral_id"])
    catch_up()
    # The reads just before may have been answered from the same moment; a reader who needs a
    # write of its own asks for its position.
    mine = f"min_position={accepted.position}"
    assert client.get(f"/api/v1/workloads/pkh?{mine}", headers=auth("sri")).json["open_cases"] == 0
    assert client.get(f"/api/v1/workloads/tksk?{mine}", headers=auth("dinsos")).json["open_cases"] == 1
    queue = client.get(f"/api/v1/follow-ups?pillar=tksk&{mine}", headers=auth("joko")).json
    assert [i["case_id"] for i in queue["items"]] == [str(case_id)]


def test_min_position_waits_then_answers_503(service, staff, catch_up, client, auth, monkeypatch):
    monkeypatch.setattr(read_service, "MAX_WAIT_SECONDS", 0.2)
    catch_up()
    wati = staff["wati"]
    written = _open(service, wati, _person(service, wati, 1))
    head = service.recorder.max_notification_id()
    behind = client.get(f"/api/v1/workloads/pkh?min_position={head}", headers=auth("sri"))
    assert behind.status_code == 503
    assert behind.headers["Retry-After"] == "1"
    catch_up()
    fresh = client.get(f"/api/v1/workloads/pkh?min_position={head}", headers=auth("sri"))
    assert fresh.status_code == 200 and fresh.json["open_cases"] == 1
    assert written


def test_reads_in_one_moment_share_the_views_position_unless_a_newer_one_is_asked_for(service, staff, catch_up,
                                                                                      settings):
    from pilar.projections.queries import WorkloadQueries
    from pilar.store.connection import Readers

    readers = Readers(settings.store)
    try:
        queries = WorkloadQueries(readers, head_sql=service.streams.head_sql())
        views = read_service.WorkloadService(queries, positions_ttl=60)
        before = views.freshness()
        wati = staff["wati"]
        _open(service, wati, _person(service, wati, 1))
        position = catch_up()
        assert views.freshness() == before
        assert views.freshness(min_position=position).position == position
        assert views.freshness().position == position
        assert read_service.WorkloadService(queries, positions_ttl=0).freshness().position == position
    finally:
        readers.close()


def test_readyz_reports_projection_lag(service, staff, catch_up, client):
    position = catch_up()
    wati = staff["wati"]
    _open(service, wati, _person(service, wati, 1))  # four events: registered, NIK claimed, opened, linked
    ready = client.get("/readyz").json
    assert ready["views"]["position"] == position and ready["views"]["lag"] == 4
    assert ready["views"]["lag_seconds"] < 30  # behind by four events, for less than the threshold
    assert ready["position"] == position + 4


COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["open", "assess", "aid", "schedule", "complete", "refer", "accept", "decline", "close",
                         "reopen", "assign"]),
        st.integers(min_value=0, max_value=1000),
        st.sampled_from(["pkh", "tksk"]),
    ),
    min_size=1, max_size=25,
)


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=COMMANDS, batch_size=st.integers(min_value=1, max_value=50))
def test_live_views_equal_a_rebuild_after_random_commands(service, staff, settings, catch_up, commands, batch_size):
    actor = staff["dinsos"]
    cases: list[UUID] = []
    person = _person(service, staff["wati"], len(commands))
    for name, pick, pillar in commands:
        try:
            if name == "open" or not cases:
                cases.append(_open(service, actor, person, pillar=pillar, priority=["low", "urgent"][pick % 2]))
                continue
            case_id = cases[pick % len(cases)]
            case = service.get_case(actor, case_id)
            if name == "assess":
                _assess(service, actor, case_id)
            elif name == "aid":
                _aid(service, actor, case_id, value=pick * 1000, item=f"item {pick % 3}")
            elif name == "schedule":
                service.schedule_follow_up(actor, case_id, due_on=date.today() + timedelta(days=pick % 30),
                                           purpose="visit")
            elif name == "complete" and case.follow_ups:
                follow_up = case.follow_ups[pick % len(case.follow_ups)]
                service.complete_follow_up(actor, case_id, follow_up["id"], outcome="stable", notes="")
            elif name == "refer":
                service.send_referral(actor, case_id, to_pillar=pillar, reason="r")
            elif name in ("accept", "decline") and case.pending_referral:
                answer = service.accept_referral if name == "accept" else service.decline_referral
                kwargs = {} if name == "accept" else {"reason": "no"}
                answer(actor, case_id, case.pending_referral["id"], **kwargs)
            elif name == "close":
                service.close_case(actor, case_id, outcome="graduated", note="")
            elif name == "reopen":
                service.reopen_case(actor, case_id, reason="again")
            elif name == "assign":
                service.assign_case(actor, case_id, worker={"pkh": "wati", "tksk": "joko"}[case.pillar])
        except PilarError:
            pass  # a broken rule appends nothing; the views must not notice either
    catch_up(batch_size)

    position, differences = check(settings)
    assert position == service.recorder.max_notification_id()
    assert differences == []
    # And against the aggregates themselves, an oracle the projector shares no code with.
    from pilar.projections.queries import CaseFilter, WorkloadQueries
    from pilar.store.connection import Readers

    readers = Readers(settings.store)
    try:
        rows, total = WorkloadQueries(readers).cases(CaseFilter(), date.today(), 1, 500)
    finally:
        readers.close()
    by_id = {row["id"]: row for row in rows}
    for case_id in cases:
        case = service.get_case(actor, case_id)
        row = by_id[str(case_id)]
        assert (row["pillar"], row["status"], row["worker"], row["version"]) == (
            case.pillar, case.status, case.worker, case.version)
        due = case.next_follow_up_due
        assert row["next_follow_up_due"] == (due.isoformat() if due else None)
        pending = case.pending_referral
        assert row["pending_referral_to"] == (pending["to_pillar"] if pending else None)


def test_rebuild_replaces_the_live_views_with_the_same_rows(service, staff, settings, catch_up):
    wati = staff["wati"]
    for n in range(3):
        case_id = _open(service, wati, _person(service, wati, n))
        _assess(service, wati, case_id)
    catch_up(batch_size=2)
    assert rebuild(settings) == service.recorder.max_notification_id()
    assert check(settings)[1] == []


def test_case_list_filters_sorts_and_pages_from_the_views(service, staff, catch_up, client, auth):
    wati, joko = staff["wati"], staff["joko"]
    person = _person(service, wati, 1)
    low = _open(service, wati, person, priority="low")
    urgent = _open(service, wati, person, priority="urgent")
    normal = _open(service, wati, _person(service, wati, 2, desa="35.01.01.2001"), priority="normal")
    service.assign_case(wati, normal, worker="wati")
    tksk = _open(service, joko, person, pillar="tksk", priority="urgent")
    catch_up()

    listed = client.get("/api/v1/cases", headers=auth("wati")).json
    assert [c["id"] for c in listed["items"]] == [str(urgent), str(normal), str(low)]
    assert listed["total"] == 3 and listed["lag"] == 0
    assert client.get("/api/v1/cases?pillar=tksk", headers=auth("wati")).status_code == 403
    everyone = client.get("/api/v1/cases?per_page=2&page=1", headers=auth("inspektur")).json
    assert everyone["total"] == 4 and len(everyone["items"]) == 2
    second = client.get("/api/v1/cases?per_page=2&page=2", headers=auth("inspektur")).json
    assert {c["id"] for c in everyone["items"] + second["items"]} == {str(low), str(urgent), str(normal), str(tksk)}

    def ids(query: str, who: str = "dinsos") -> set[str]:
        response = client.get(f"/api/v1/cases?{query}", headers=auth(who))
        assert response.status_code == 200, response.json
        return {c["id"] for c in response.json["items"]}

    assert ids("worker=wati") == {str(normal)}
    assert ids("kecamatan=35.01.01") == {str(normal)}
    assert ids("desa=35.01.04.1001&pillar=pkh") == {str(low), str(urgent)}
    assert ids("status=referred&pillar=tksk") == {str(tksk)}
    assert ids(f"beneficiary_id={person}") == {str(low), str(urgent), str(tksk)}
    assert ids("overdue=true") == set()
    assert client.get("/api/v1/cases?status=bogus", headers=auth("dinsos")).status_code == 422
    assert client.get("/api/v1/cases?per_page=0", headers=auth("dinsos")).status_code == 422
    assert client.get("/api/v1/cases", headers=auth("root")).status_code == 403


def test_cli_check_prints_differences_and_exits_1(service, staff, settings, catch_up):
    from pilar.store.connection import ViewDB
    from tests.test_cli import run

    wati = staff["wati"]
    case_id = _open(service, wati, _person(service, wati, 1))
    catch_up()
    clean = run(settings, "projections", "check")
    assert clean.returncode == 0 and "match" in clean.stdout
    conn = ViewDB(settings.store).connect()
    try:
        conn.execute("UPDATE view_cases SET status = 'aided' WHERE case_id = ?", (str(case_id),))
        conn.execute("UPDATE view_aid SET value_idr = value_idr + 1")
    finally:
        conn.close()
    dirty = run(settings, "projections", "check")
    assert dirty.returncode == 1
    assert "cases: 1 row(s) only in the live view, 1 only in the rebuild" in dirty.stdout
    assert str(case_id) in dirty.stdout
    rebuilt = run(settings, "projections", "rebuild")
    assert rebuilt.returncode == 0 and run(settings, "projections", "check").returncode == 0


def test_a_follow_up_entered_late_is_overdue_at_once(service, staff, catch_up, client, auth):
    wati = staff["wati"]
    case_id = _open(service, wati, _person(service, wati, 1))
    service.schedule_follow_up(wati, case_id, due_on=date.today() - timedelta(days=3), purpose="agreed last week")
    catch_up()
    assert client.get(f"/api/v1/cases/{case_id}", headers=auth("wati")).json["overdue"] is True
    assert client.get("/api/v1/workloads/pkh", headers=auth("sri")).json["overdue_follow_ups"] == 1
    assert [c["id"] for c in client.get("/api/v1/cases?overdue=true", headers=auth("sri")).json["items"]] == [
        str(case_id)]


def test_a_step_whose_views_moved_while_it_prepared_prepares_again_under_the_lock(service, staff, settings):
    """A step works its batch out before it takes the write lock. Were anything else to move the
    views or seals meanwhile, writing that work would count the batch twice and break the seal
    chain; the step sees the moved heads and prepares again on what is stored."""
    from pilar.audit.seals import verify
    from pilar.store.connection import ViewDB
    from pilar.projections.runner import Follower

    wati = staff["wati"]
    for n in range(3):
        case_id = _open(service, wati, _person(service, wati, n))
        _assess(service, wati, case_id)
        _aid(service, wati, case_id)
    first, other = ViewDB(settings.store).connect(), ViewDB(settings.store).connect()
    try:
        stepper = Follower(service, first, settings.audit_key(), 100)
        interloper = Follower(service, other, settings.audit_key(), 100)
        prepare = stepper.sealer.prepare
        moves = []

        def prepare_while_the_interloper_steps(*args):
            rows = prepare(*args)
            if not moves:
                moves.append(interloper.step())
            return rows

        stepper.sealer.prepare = prepare_while_the_interloper_steps
        assert stepper.step() == service.recorder.max_notification_id()
        assert moves == [service.recorder.max_notification_id()]
        assert check(settings) == (service.recorder.max_notification_id(), [])
        assert verify(service.recorder, first, settings.audit_key()).ok
        assert first.one("SELECT COUNT(*) FROM audit_seals")[0] == service.recorder.max_notification_id()
    finally:
        first.close()
        other.close()


def test_under_a_steady_write_load_the_projection_process_gathers_between_steps(settings, service, monkeypatch):
    """A step that found new events is followed by a short gather, not by the next step at once
    (a transaction per event or two, each holding SQLite's write lock), nor by the idle poll."""
    import threading

    from pilar.projections import runner, waiting

    waits = []
    monkeypatch.setattr(waiting.Waiter, "wait", lambda self, stop, busy=False: (waits.append(busy), stop.set()))
    carried = iter([7])
    monkeypatch.setattr(runner.Follower, "step", lambda self: next(carried, 0))
    process = runner.ProjectionProcess(settings, batch_size=10, poll_interval=30, gather=0.05, stop=threading.Event())
    process.run()
    assert waits == [True]


def test_the_waiter_after_a_busy_step_sleeps_the_gather_not_the_poll_interval(settings, service):
    import threading
    import time

    from pilar.projections.waiting import Waiter

    waiter = Waiter(settings, service, poll_interval=30, gather=0.05)
    try:
        started = time.monotonic()
        waiter.wait(threading.Event(), busy=True)
        assert time.monotonic() - started < 10
    finally:
        waiter.close()


class _StallingPositions:
    """WorkloadQueries.positions of a database that answers only while `answering` is set."""

    def __init__(self):
        import threading

        self.position, self.asked = 1, 0
        self.answering = threading.Event()
        self.answering.set()

    def positions(self):
        self.asked += 1
        assert self.answering.wait(10), "the test never let the database answer"
        return self.position, self.position, "written"


def test_reads_go_on_with_the_last_reading_while_the_next_is_asked_for_behind_them():
    import threading
    import time

    queries = _StallingPositions()
    views = read_service.WorkloadService(queries, positions_ttl=0.05)
    assert views.freshness().position == 1 and queries.asked == 1
    queries.position = 2
    queries.answering.clear()  # the database stalls (a PostgreSQL backend waiting for a core)
    time.sleep(0.06)
    started = time.monotonic()
    assert [views.freshness().position for _ in range(20)] == [1] * 20  # none of them waits for it
    assert time.monotonic() - started < 1  # the database answers only when the test lets it (10 s)
    deadline = time.monotonic() + 2
    while queries.asked < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [views.freshness().position for _ in range(20)] == [1] * 20
    assert queries.asked == 2  # one reading behind them, not one per read
    queries.answering.set()
    deadline = time.monotonic() + 2
    while views.freshness().position != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert views.freshness().position == 2

    # Past POSITIONS_BEHIND_FOR the last reading is too old to serve: reads wait for a new one.
    queries.position = 3
    queries.answering.clear()
    time.sleep(0.05 + read_service.POSITIONS_BEHIND_FOR + 0.05)
    seen: list[int] = []
    waiting = threading.Thread(target=lambda: seen.append(views.freshness().position))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive() and seen == []
    queries.answering.set()
    waiting.join(5)
    assert seen == [3]

    # A reader who must see its own write always asks: a reading behind the position it wants is not served.
    queries.position = 4
    assert views.freshness(min_position=4).position == 4


def test_a_reading_behind_the_reads_that_fails_leaves_them_to_ask_themselves():
    import time

    class Failing(_StallingPositions):
        def positions(self):
            if self.position == 2:
                self.asked += 1
                raise OSError("connection refused")
            return super().positions()

    queries = Failing()
    views = read_service.WorkloadService(queries, positions_ttl=0.02)
    views.freshness()
    queries.position = 2
    time.sleep(0.03)
    assert views.freshness().position == 1  # served while the reading behind fails, quietly
    deadline = time.monotonic() + 0.3
    while queries.asked < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert queries.asked == 2 and views.freshness().position == 1  # it was tried, and failed
    time.sleep(0.02 + read_service.POSITIONS_BEHIND_FOR + 0.03)
    with pytest.raises(OSError, match="refused"):  # the read itself now asks (the API answers 503 as before)
        views.freshness()
