"""Load from `wrk`, a compiled generator, so that the client is not what limits the server on
this 2-core machine (issue 16: four Python clients capped hello-world at 1.5–1.8k req/s).

One load is a Lua script (`script`) that spreads requests over the given cases and prints
wrk's own summary and latency percentiles as one JSON line (`done`); `run` starts wrk, takes its
CPU time from the kernel's accounting of that one child (`os.wait4`), and `summary` turns the
two into the figures the report shows."""

import json
import os
import shutil
import subprocess
import tempfile
from datetime import date, timedelta
from pathlib import Path

THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_WRK_CONNECTIONS", "8"))
MARKER = "BENCH_JSON "
# A connection kept open for a whole load stays with the worker that accepted it: 8 connections
# split 6–2 or worse between two workers leave one half idle for the whole turn. nginx in front of
# Pilar (deploy/nginx/pilar.conf) closes an upstream connection after 1,000 requests
# (`keepalive_requests`), so a skew lasts a moment there; wrk's connections do the same here.
KEEPALIVE_REQUESTS = 1000

# What each mode asks; {target} is one of the load's targets, chosen at random per request.
MODES = {
    "hello": ("GET", "/hello", False),
    "thin": ("POST", "/thin/{target}", False),
    "write": ("POST", "/api/v1/cases/{target}/follow-ups", True),
    "workload": ("GET", "/api/v1/workloads/{target}", False),
    "list": ("GET", "/api/v1/cases?pillar={target}&per_page=20", False),
}

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    MARKER, summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of printable ASCII is a valid Lua string literal


def recycle_every(connections: int, threads: int) -> int:
    """Every how many of a wrk thread's requests one asks the server to close its connection, so
    that each connection serves KEEPALIVE_REQUESTS requests on average."""
    return max(1, KEEPALIVE_REQUESTS // max(1, connections // threads))


def script(mode: str, bearer: str, targets: list[str], connections: int = CONNECTIONS, threads: int = THREADS) -> str:
    """The Lua script of one load: a random target per request, each wrk thread seeded apart, a
    connection closed after KEEPALIVE_REQUESTS requests on average."""
    method, path, has_body = MODES[mode]
    body = json.dumps({"due_on": (date.today() + timedelta(days=30)).isoformat(), "purpose": "bench"})
    lines = [f"MARKER = {_lua_string(MARKER)}",
             "local targets = {" + ", ".join(_lua_string(t) for t in targets) + "}",
             f"local body = {_lua_string(body) if has_body else 'nil'}",
             f"wrk.method = {_lua_string(method)}",
             "local counter = 0",
             "setup = function(thread) counter = counter + 1; thread:set('seed', counter) end",
             "init = function(args) math.randomseed(tonumber(seed or 1) * 7919) end"]
    if bearer != "-":
        lines.append(f'wrk.headers["Authorization"] = {_lua_string("Bearer " + bearer)}')
    if has_body:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    prefix, found, suffix = path.partition("{target}")
    chosen = f" .. targets[math.random(#targets)] .. {_lua_string(suffix)}" if found else ""
    # wrk.format takes a request's headers instead of wrk.headers, so the closing ones are a copy.
    lines += ["local closing = {}", "for name, value in pairs(wrk.headers) do closing[name] = value end",
              'closing["Connection"] = "close"', "local sent = 0"]
    lines.append("request = function()\n"
                 "  sent = sent + 1\n"
                 f"  local path = {_lua_string(prefix)}{chosen}\n"
                 f"  if sent % {recycle_every(connections, threads)} == 0 then return wrk.format(nil, path, closing, body) end\n"
                 "  return wrk.format(nil, path, nil, body)\nend")
    return "\n".join(lines) + _DONE


def summary(figures: dict, cpu_seconds: float) -> dict:
    """Rates, percentiles and wrk's CPU share from one run's JSON line. Every answer that is not
    2xx/3xx, and every socket error, is counted out of `ok_per_s`."""
    seconds = figures["duration_us"] / 1e6
    failed = sum(figures[k] for k in ("status", "connect", "read", "write", "timeout"))
    requests = figures["requests"]
    return {"requests": requests, "per_s": round(requests / seconds, 1),
            "ok_per_s": round(max(requests - figures["status"], 0) / seconds, 1), "failed": failed,
            "p50_ms": round(figures["p50_us"] / 1000, 2), "p90_ms": round(figures["p90_us"] / 1000, 2),
            "p99_ms": round(figures["p99_us"] / 1000, 2), "max_ms": round(figures["max_us"] / 1000, 2),
            "seconds": round(seconds, 2), "wrk_cpu_s": round(cpu_seconds, 2),
            "wrk_cpu_share": round(cpu_seconds / seconds, 2)}


def parse(stdout: str) -> dict:
    """The JSON line `done` printed, among wrk's own text."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    raise RuntimeError(f"wrk printed no summary:\n{stdout[-2000:]}")


def merge(runs: list[dict]) -> dict:
    """Several runs (turns) of one load as one figure: rates over the summed time; percentiles
    are not additive, so the turn-weighted mean of each turn's percentile (turns are equal in length)."""
    seconds = sum(r["seconds"] for r in runs)
    merged = {"requests": sum(r["requests"] for r in runs), "failed": sum(r["failed"] for r in runs),
              "seconds": round(seconds, 2), "wrk_cpu_s": round(sum(r["wrk_cpu_s"] for r in runs), 2)}
    merged["per_s"] = round(merged["requests"] / seconds, 1)
    merged["ok_per_s"] = round(sum(r["ok_per_s"] * r["seconds"] for r in runs) / seconds, 1)
    merged["wrk_cpu_share"] = round(merged["wrk_cpu_s"] / seconds, 2)
    for key in ("p50_ms", "p90_ms", "p99_ms"):
        merged[key] = round(sum(r[key] * r["seconds"] for r in runs) / seconds, 2)
    merged["max_ms"] = max(r["max_ms"] for r in runs)
    return merged


def ensure_installed() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install -y wrk)")
    return found


def run(url: str, bearer: str, mode: str, targets: list[str], seconds: float,
        connections: int = CONNECTIONS, threads: int = THREADS) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script(mode, bearer, targets, connections, threads))
    try:
        process = subprocess.Popen([ensure_installed(), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s",
                                    "--timeout", "30s", "-s", lua.name, url],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with process.stdout:
            out = process.stdout.read()
        # The rusage of exactly this child, whatever else the benchmark has running.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f"wrk exited with {process.returncode}:\n{out[-2000:]}")
        return summary(parse(out), usage.ru_utime + usage.ru_stime)
    finally:
        Path(lua.name).unlink()
