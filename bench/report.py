"""docs/benchmarks.md and its chart from `make bench`'s results: each target as a ratio to a
baseline measured in turns with it, pass or fail, and the absolute figures behind it."""

import re
import time
from pathlib import Path

# Not pilar.gunicorn_conf: importing it points this process at a metrics folder of its own.
from pilar.gunicorn_worker import DEFAULT_THREADS, DEFAULT_WORKERS


def _ratio_rows(r: dict, size: str) -> list:
    """The issue-16 targets at one store size ("small" or "large"), each a row of its own."""
    suffix = "" if size == "small" else "_large"
    at = f"at {r['small'] if size == 'small' else r.get('head', r['large']):,} events"
    rows = []
    for name, mine, base, target, unit in (
            ("write ÷ thin write (b)", f"write_{size}", f"b_thin_write{suffix}", 0.8, "writes/s"),
            ("workload GET ÷ hello-world (a)", f"workload_{size}", f"a_hello{suffix}", 0.8, "req/s"),
            ("case list GET ÷ hello-world (a)", f"list_{size}", f"a_hello{suffix}", 0.5, "req/s")):
        def rate(name=name, mine=mine, base=base, target=target, unit=unit):
            ratio = r[mine]["ok_per_s"] / r[base]["ok_per_s"]
            return [(f"{name} {at}", f"{r[mine]['ok_per_s']} / {r[base]['ok_per_s']} {unit}", ratio, f"≥ {target}",
                     ratio >= target)]
        rows.append(rate)
    for name, mine, base in (("write p99 ÷ thin write p99", f"write_{size}", f"b_thin_write{suffix}"),
                             ("workload GET p99 ÷ hello-world p99", f"workload_{size}", f"a_hello{suffix}"),
                             ("case list GET p99 ÷ hello-world p99", f"list_{size}", f"a_hello{suffix}")):
        def tail(name=name, mine=mine, base=base):
            ratio = r[mine]["p99_ms"] / r[base]["p99_ms"]
            return [(f"{name} {at}", f"{r[mine]['p99_ms']} / {r[base]['p99_ms']} ms", ratio, "≤ 2", ratio <= 2)]
        rows.append(tail)
    return rows


def _available(rows) -> list:
    """The rows whose figures the run reached: a run that stopped part-way lacks the rest."""
    found = []
    for row in rows:
        try:
            found += row()
        except (KeyError, TypeError, ZeroDivisionError, ValueError):
            continue
    return found


def targets(r: dict) -> list[tuple[str, str, float, str, bool]]:
    """(measure, figure, ratio, target, met) for the report and the chart."""
    def catch_up():
        catch_vs_write = r["rebuild"]["events_per_s"] / max(r["write_small"]["ok_per_s"], 1)
        return [("catch-up ÷ write throughput", f"{r['rebuild']['events_per_s']:,} events/s", catch_vs_write, "≥ 3",
                 catch_vs_write >= 3)]

    def store_size():
        small, large = r["size_small"], r["size_large"]
        large_vs_small = large["ok_per_s"] / small["ok_per_s"]
        return [(f"writes at {r['head']:,} ÷ at {r['small']:,} events stored (two stores, in turns)",
                 f"{large['ok_per_s']} / {small['ok_per_s']} writes/s", large_vs_small, "0.9 to 1.1",
                 0.9 < large_vs_small < 1.1)]

    rows = [
        *_ratio_rows(r, "small"),
        *_ratio_rows(r, "large"),
        lambda: [("workload GET p99, one connection (no queueing)", f"{r['workload_latency']['p99_ms']} ms",
                  r["workload_latency"]["p99_ms"], "≤ 10 ms", r["workload_latency"]["p99_ms"] <= 10)],
        catch_up,
        lambda: [("projection lag p99 at full write load", f"{r['lag']['p99_s']} s", r["lag"]["p99_s"], "≤ 1 s",
                  r["lag"]["p99_s"] <= 1)],
        store_size,
        lambda: [("1,000-event case load ÷ 10-event case", f"{r['case_load']['replacing']['ms']} / "
                  f"{r['case_load']['short']['ms']} ms", r["case_load"]["ratio"], "≤ 2", r["case_load"]["ratio"] <= 2)],
        lambda: [("largest gunicorn worker RSS", f"{max(r['rss_mb']['workers'])} MB", max(r["rss_mb"]["workers"]),
                  "≤ 150 MB", max(r["rss_mb"]["workers"]) <= 150)],
    ]
    if r["store"] == "sqlite":
        rows.append(lambda: [("catch-up on SQLite", f"{r['rebuild']['events_per_s']:,} events/s",
                              r["rebuild"]["events_per_s"], "≥ 10,000/s", r["rebuild"]["events_per_s"] >= 10_000)])
    return _available(rows)


def _rate(figures: dict, unit: str = "writes/s") -> str:
    turns = f" (turns: {', '.join(map(str, figures['rounds']))})" if "rounds" in figures else ""
    failed = f", **{figures['failed']} failed**" if figures.get("failed") else ""
    return (f"{figures['ok_per_s']} {unit}{turns}, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms; "
            f"wrk used {figures['wrk_cpu_share']:.0%} of a core{failed}")


def _setups(r: dict) -> str:
    parts = []
    for name, label in (("hello", "(a) hello-world"), ("thin", "(b) thin write")):
        chosen = r["setups"][name]
        tried = ", ".join(f"{setup} {min(rates):.0f}" for setup, rates in chosen["tried"].items())
        parts.append(f"{label}: **{chosen['name']}** won (slower of two turns, ok/s: {tried})")
    return "; ".join(parts)


def report(results: list[dict]) -> str:
    lines = ["# Benchmarks", "",
             f"Written by `make bench` ({time.strftime('%Y-%m-%d')}) on this project's 2-core machine, which other "
             "work shares (the load average at the start and end of each store's run is given: absolute figures are "
             "noisy, the ratios are what the targets ask). Load comes from `wrk` (threads × connections in each "
             f"section); wrk's own CPU use is shown beside each figure. Pilar runs as the "
             "README deploys it: `gunicorn -c python:pilar.gunicorn_conf` "
             f"({DEFAULT_WORKERS} workers × {DEFAULT_THREADS} threads now; each section says what it ran), "
             "access log on, projection "
             "process following the store. Each baseline runs under plain gunicorn in the worker setup that was "
             "fastest for it in the same run (each setup tried twice in turns). Every compared pair or triple takes "
             "turns (as many as each section says), on the same cases, the order reversed every round "
             "(a, b, b, a, a, b): every write adds a follow-up, so cases grow as the run goes on, and neither load "
             "always meets the smaller ones. Store size is compared on a twin of the small store, writes to both in "
             "turns. "
             "Baselines: (a) a hello-world Flask JSON endpoint; (b) the thinnest endpoint doing a write's store "
             "work (load a case, append one follow-up, save; no validation, auth or extras); (c) eventsourcing's "
             "own save rate in one process without HTTP. The targets are stated for 10,000 and 1,000,000 events "
             "stored (`BENCH_EVENTS=1000000 make bench`); each section names the size it reached.",
             "", "![ratios to targets](benchmarks.png)", ""]
    for r in results:
        lines += _section(r)
    lines.append("Raw figures: `bench/results.json`.")
    return "\n".join(lines) + "\n"


def _section(r: dict) -> list[str]:
    passed = sum(met for *_, met in targets(r))
    head = r.get("head", r["large"])
    end = r.get("load_average_end")
    lines = [f"## {r['store']}, {r['small']:,} and {head:,} events", ""]
    if r.get("incomplete"):
        lines += [f"**Incomplete**: the run stopped at \"{r.get('step', '?')}\""
                  + (f" ({r['failed']})" if r.get("failed") else " (still running, or killed)")
                  + "; what it measured before is below.", ""]
    if r.get("pilar_threads"):
        lines += [f"Pilar: {DEFAULT_WORKERS} workers × {r['pilar_threads']} threads.", ""]
    lines += [f"wrk -t{r['wrk']['threads']} -c{r['wrk']['connections']}, {r['seconds']:g} s per load, {r['rounds']} "
              f"turns each ({r['size_rounds']} for store size); load average "
              f"{' / '.join(f'{x:.1f}' for x in r['load_average_start'])} at the start"
              + (f", {' / '.join(f'{x:.1f}' for x in end)} at the end" if end else "") + " (1 / 5 / 15 min). "
              + (f"{_setups(r)}. " if "setups" in r else "") + f"{passed} of {len(targets(r))} targets met."
              + (f" Steps took (s): {', '.join(f'{k} {v:g}' for k, v in r['step_seconds'].items())}."
                 if r.get("step_seconds") else ""), "",
              "| target | measured | ratio / value | target | met |", "|---|---|---|---|---|"]
    for name, figure, value, target, met in targets(r):
        lines.append(f"| {name} | {figure} | {value:.2f} | {target} | {'yes' if met else '**no**'} |")
    lines += ["", "| absolute figures | |", "|---|---|"]
    lines += [f"| {line} |" for line in _available(_absolute_rows(r))]
    return lines + [""]


def _absolute_rows(r: dict) -> list:
    rows = []
    for size, events in (("small", r["small"]), ("large", r.get("head", r["large"]))):
        suffix = "" if size == "small" else "_large"
        rows += [lambda s=suffix, e=events: [f"(a) hello-world, at {e:,} events | {_rate(r[f'a_hello{s}'], 'req/s')}"],
                 lambda z=size, e=events: [f"workload GET at {e:,} events | {_rate(r[f'workload_{z}'], 'req/s')}"],
                 lambda z=size, e=events: [f"case list GET at {e:,} events | {_rate(r[f'list_{z}'], 'req/s')}"],
                 lambda s=suffix, e=events: [f"(b) thin write at {e:,} events | {_rate(r[f'b_thin_write{s}'])}"],
                 lambda z=size, e=events: [f"Pilar write (signed-in follow-up) at {e:,} events | "
                                           f"{_rate(r[f'write_{z}'])}"]]
    return rows + [
        lambda: [f"(c) eventsourcing raw save, one process | {r['c_raw_save']['per_s']} saves/s"],
        lambda: [f"Pilar write, in turns: a {r['small']:,}-event store | {_rate(r['size_small'])}"],
        lambda: [f"Pilar write, in turns: the {r['head']:,}-event store | {_rate(r['size_large'])}"],
        lambda: [f"workload GET, one connection | {_rate(r['workload_latency'], 'req/s')}"],
        lambda: [f"rebuild of every view at {r['rebuild']['events']:,} events | {r['rebuild']['seconds']} s "
                 f"({r['rebuild']['events_per_s']:,} events/s)"],
        lambda: [f"verify at {r['verify']['events']:,} events | {r['verify']['seconds']} s "
                 f"({r['verify']['events_per_s']:,} events/s; 1,000,000 events ≈ "
                 f"{1_000_000 / r['verify']['events_per_s']:.0f} s)"],
        lambda: [f"projection lag under full write load ({r['lag']['writes_per_s']} writes/s) | "
                 f"p50 {r['lag']['p50_s']} s, p99 {r['lag']['p99_s']} s ({r['lag']['samples']} samples)"],
        lambda: [f"RSS | master {r['rss_mb']['master']} MB, workers {r['rss_mb']['workers']} MB, projector "
                 f"{r['rss_mb']['projector']} MB"],
        lambda: [f"case load (snapshots every 50 events) | {r['case_load']['short']['version']} events "
                 f"{r['case_load']['short']['ms']} ms; {r['case_load']['replacing']['version']} events replacing state "
                 f"{r['case_load']['replacing']['ms']} ms; {r['case_load']['growing']['version']} events adding "
                 f"follow-ups {r['case_load']['growing']['ms']} ms ({r['case_load']['ratio_growing']}×: the state "
                 "itself is 100× larger)"],
    ]


def _is_ratio(target: str) -> bool:
    """Targets on ratios are bare numbers ("≥ 0.8", "0.9 to 1.1"); the rest carry a unit."""
    return re.fullmatch(r"[^a-zA-Z/]+|[0-9.]+ to [0-9.]+", target) is not None


def chart(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [r for r in results if not r.get("incomplete")]  # the tables show what a stopped run measured
    if not results:
        return
    ratio_rows = [(name, target) for name, _f, _v, target, _m in targets(results[0]) if _is_ratio(target)]
    fig, ax = plt.subplots(figsize=(10, 7))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        values = [value for _n, _f, value, target, _m in targets(r) if _is_ratio(target)]
        ax.barh([y + i * width for y in range(len(values))], values, height=width,
                label=f"{r['store']}, {r['head']:,} events")
    for y, (_name, target) in enumerate(ratio_rows):
        for threshold in re.findall(r"[0-9.]+", target):
            ax.plot([float(threshold)] * 2, [y - 0.2, y + 0.8], color="black", linestyle="--", linewidth=1)
    ax.set_yticks([y + 0.4 - width / 2 for y in range(len(ratio_rows))])
    ax.set_yticklabels([f"{name} ({target})" for name, target in ratio_rows], fontsize=7)
    ax.set_xlabel("ratio (dashed line: target)")
    ax.set_xscale("log")
    ax.legend()
    ax.set_title("Pilar: ratios to baselines measured in turns with it")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)  # drawn after every step of a run: an open figure each time adds up
