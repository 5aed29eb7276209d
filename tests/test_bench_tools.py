"""The profiling tool behind the store-size target runs, and measures what it says it does."""


from datetime import date, timedelta
from uuid import UUID

import pytest
from bench import projection_cost
from bench.generate import generate_into
from bench.measures import catch_up, verify_rate
from bench.stores import cases_shaped_like, grow, open_case_shapes, open_cases
from pilar.cases.access import Actor


def test_projection_cost_projects_exactly_the_follow_ups_it_wrote(settings, service, monkeypatch):
    generate_into(settings, 400, 1, False)
    catch_up(settings)
    monkeypatch.setattr(projection_cost, "WRITES", 25)
    figures = projection_cost.measure(settings, open_cases(settings, 5))
    assert figures["events"] == 25
    assert 0 < figures["us_held_per_event"] <= figures["us_per_event"]
    assert catch_up(settings) == service.recorder.max_notification_id()


def test_wrk_summary_is_parsed_among_wrks_own_text_and_failures_are_counted_out():
    from bench import wrk

    out = ("Running 8s test @ http://127.0.0.1:1\n  2 threads and 8 connections\n"
           'BENCH_JSON {"requests":1000,"duration_us":2000000,"connect":0,"read":1,"write":0,"status":100,'
           '"timeout":2,"p50_us":1500,"p90_us":4000,"p99_us":12345,"max_us":50000}\n')
    figures = wrk.summary(wrk.parse(out), cpu_seconds=0.5)
    assert figures["per_s"] == 500.0 and figures["ok_per_s"] == 450.0
    assert figures["failed"] == 103
    assert (figures["p50_ms"], figures["p99_ms"], figures["max_ms"]) == (1.5, 12.35, 50.0)
    assert figures["wrk_cpu_share"] == 0.25
    with pytest.raises(RuntimeError, match="no summary"):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_wrk_turns_merge_over_their_summed_time():
    from bench import wrk

    turn = {"requests": 100, "failed": 0, "seconds": 1.0, "wrk_cpu_s": 0.1, "ok_per_s": 100.0,
            "p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": 4.0, "max_ms": 9.0}
    merged = wrk.merge([turn, turn | {"requests": 300, "seconds": 3.0, "ok_per_s": 90.0, "p99_ms": 8.0, "max_ms": 20.0}])
    assert merged["per_s"] == 100.0 and merged["ok_per_s"] == 92.5
    assert merged["p99_ms"] == 7.0 and merged["max_ms"] == 20.0


def test_wrk_scripts_sign_in_write_json_and_spread_over_every_case():
    from bench import wrk

    write = wrk.script("write", "tok.en", ["c1", "c2"])
    assert 'wrk.headers["Authorization"] = "Bearer tok.en"' in write
    assert 'wrk.headers["Content-Type"] = "application/json"' in write
    assert 'wrk.method = "POST"' in write and 'purpose\\": \\"bench' in write
    assert 'local targets = {"c1", "c2"}' in write
    assert '"/api/v1/cases/" .. targets[math.random(#targets)] .. "/follow-ups"' in write
    hello = wrk.script("hello", "-", ["-"])
    assert "Authorization" not in hello and 'local path = "/hello"\n' in hello and "local body = nil" in hello


def test_wrk_connections_are_given_up_as_nginx_gives_up_its_upstream_ones(monkeypatch):
    """A load's connections do not stay with the worker that accepted them for the whole load:
    each serves about KEEPALIVE_REQUESTS requests, then asks for `Connection: close`."""
    import http.server
    import threading

    from bench import wrk

    monkeypatch.setattr(wrk, "KEEPALIVE_REQUESTS", 40)
    seen = {"requests": 0, "closing": 0, "connections": set()}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else each answer's body waits on a delayed acknowledgement

        def do_GET(self):
            seen["requests"] += 1
            seen["connections"].add(self.client_address)
            closing = self.headers.get("Connection", "").lower() == "close"
            seen["closing"] += closing
            self.send_response(200)
            if closing:  # as gunicorn says it
                self.send_header("Connection", "close")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        figures = wrk.run(f"http://127.0.0.1:{server.server_address[1]}", "-", "hello", ["-"], 2,
                          connections=4, threads=2)
    finally:
        server.shutdown()
        server.server_close()
    assert figures["failed"] == 0 and seen["requests"] >= 200
    every = wrk.recycle_every(4, 2)  # 20: each thread's 20th request, over its 2 connections
    assert every == 20 and abs(seen["closing"] - seen["requests"] / every) <= 4
    # Every close but those of the last requests (one per connection at most) opened a new one.
    assert len(seen["connections"]) >= 4 + seen["closing"] - 4


def test_a_grown_store_holds_sealed_copies_of_the_case_streams_as_they_stood(settings, service):
    """The benchmarks' large stores (bench/stores.py, testkit/bulk.py): copies under new ids whose
    MACs verify, projected like the originals, each of the shape its original had at `until`."""
    generate_into(settings, 300, 1, False)
    small = catch_up(settings)
    shapes = open_case_shapes(settings)
    writer = Actor("bench.pkh", "worker", "pkh")
    for case_id, _, _ in shapes[:3]:  # grown after `until`: their copies must not be
        service.schedule_follow_up(writer, UUID(case_id), due_on=date.today() + timedelta(days=7), purpose="again")
    head = grow(settings, 1500, until=small)
    assert 1500 <= head < 1500 + 300
    assert catch_up(settings) == head
    verified = verify_rate(settings)
    assert verified["ok"] and verified["events"] == head
    copies = cases_shaped_like(settings, shapes[:3])
    assert len(set(copies)) == 3 and not set(copies) & {case_id for case_id, _, _ in shapes[:3]}
    versions = {case_id: version for case_id, version, _ in open_case_shapes(settings)}
    assert [versions[c] for c in copies] == [version for _, version, _ in shapes[:3]]
    assert len(versions) >= 3 * len(shapes)


def test_compared_loads_take_turns_in_an_order_reversed_every_round(monkeypatch):
    from bench import run

    order: list[str] = []

    def fake_load(url, bearer, mode, targets, seconds):
        order.append(mode)
        return {"ok_per_s": 1.0, "p99_ms": 1.0, "ok": 1, "seconds": seconds, "failed": 0, "wrk_cpu_s": 0.0,
                "p50_ms": 1.0, "latency_ms": {}}

    monkeypatch.setattr(run, "load", fake_load)
    monkeypatch.setattr(run.wrk, "merge", lambda runs: {"ok_per_s": sum(r["ok_per_s"] for r in runs)})
    compared = run.alternate({"thin": ("u", "-", "thin", []), "write": ("u", "t", "write", [])}, rounds=4)
    assert order == ["thin", "write", "write", "thin", "thin", "write", "write", "thin"]
    assert compared["thin"]["rounds"] == [1.0] * 4
    order.clear()
    run.alternate({"hello": ("u", "-", "hello", []), "workload": ("u", "t", "workload", []),
                   "list": ("u", "t", "list", [])}, rounds=2)
    assert order == ["hello", "workload", "list", "list", "workload", "hello"]
