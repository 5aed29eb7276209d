"""docs/benchmarks.md and its chart from `make bench`'s results: each target as a ratio to a
baseline measured in turns with it, pass or fail, and the absolute figures behind it."""

import re
import time
from pathlib import Path


def _ratio_rows(r: dict, size: str, events: int) -> list[tuple[str, str, float, str, bool]]:
    """The issue-16 targets at one store size ("small" or "large")."""
    suffix = "" if size == "small" else "_large"
    hello, thin = r[f"a_hello{suffix}"], r[f"b_thin_write{suffix}"]
    write, workload, listing = r[f"write_{size}"], r[f"workload_{size}"], r[f"list_{size}"]
    at = f"at {events:,} events"
    rows = []
    for name, mine, base, target, unit in (
            ("write ÷ thin write (b)", write, thin, 0.8, "writes/s"),
            ("workload GET ÷ hello-world (a)", workload, hello, 0.8, "req/s"),
            ("case list GET ÷ hello-world (a)", listing, hello, 0.5, "req/s")):
        ratio = mine["ok_per_s"] / base["ok_per_s"]
        rows.append((f"{name} {at}", f"{mine['ok_per_s']} / {base['ok_per_s']} {unit}", ratio, f"≥ {target}",
                     ratio >= target))
    for name, mine, base in (("write p99 ÷ thin write p99", write, thin),
                             ("workload GET p99 ÷ hello-world p99", workload, hello),
                             ("case list GET p99 ÷ hello-world p99", listing, hello)):
        ratio = mine["p99_ms"] / base["p99_ms"]
        rows.append((f"{name} {at}", f"{mine['p99_ms']} / {base['p99_ms']} ms", ratio, "≤ 2", ratio <= 2))
    return rows


def targets(r: dict) -> list[tuple[str, str, float, str, bool]]:
    """(measure, figure, ratio, target, met) for the report and the chart."""
    catch_vs_write = r["rebuild"]["events_per_s"] / max(r["write_small"]["ok_per_s"], 1)
    small, large = r["size_small"], r["size_large"]
    large_vs_small = large["ok_per_s"] / small["ok_per_s"]
    rows = [*_ratio_rows(r, "small", r["small"]), *_ratio_rows(r, "large", r["head"]),
            ("workload GET p99, one connection (no queueing)", f"{r['workload_latency']['p99_ms']} ms",
             r["workload_latency"]["p99_ms"], "≤ 10 ms", r["workload_latency"]["p99_ms"] <= 10),
            ("catch-up ÷ write throughput", f"{r['rebuild']['events_per_s']:,} events/s", catch_vs_write, "≥ 3",
             catch_vs_write >= 3),
            ("projection lag p99 at full write load", f"{r['lag']['p99_s']} s", r["lag"]["p99_s"], "≤ 1 s",
             r["lag"]["p99_s"] <= 1),
            (f"writes at {r['head']:,} ÷ at {r['small']:,} events stored (two stores, in turns)",
             f"{large['ok_per_s']} / {small['ok_per_s']} writes/s", large_vs_small, "0.9 to 1.1",
             0.9 < large_vs_small < 1.1),
            ("1,000-event case load ÷ 10-event case", f"{r['case_load']['replacing']['ms']} / "
             f"{r['case_load']['short']['ms']} ms", r["case_load"]["ratio"], "≤ 2", r["case_load"]["ratio"] <= 2),
            ("largest gunicorn worker RSS", f"{max(r['rss_mb']['workers'])} MB", max(r["rss_mb"]["workers"]),
             "≤ 150 MB", max(r["rss_mb"]["workers"]) <= 150)]
    if r["store"] == "sqlite":
        rows.append(("catch-up on SQLite", f"{r['rebuild']['events_per_s']:,} events/s", r["rebuild"]["events_per_s"],
                     "≥ 10,000/s", r["rebuild"]["events_per_s"] >= 10_000))
    return rows


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
             "README deploys it: `gunicorn -c python:pilar.gunicorn_conf` (2 workers × 4 threads), access log on, projection "
             "process following the store. Each baseline runs under plain gunicorn in the worker setup that was "
             "fastest for it in the same run (each setup tried twice in turns). Every compared pair or triple takes "
             "turns (as many as each section says), alternately, on the same cases: every write adds a follow-up, so cases grow "
             "as the run goes on. Store size is compared on a twin of the small store, writes to both in turns. "
             "Baselines: (a) a hello-world Flask JSON endpoint; (b) the thinnest endpoint doing a write's store "
             "work (load a case, append one follow-up, save; no validation, auth or extras); (c) eventsourcing's "
             "own save rate in one process without HTTP. The targets are stated for 10,000 and 1,000,000 events "
             "stored (`BENCH_EVENTS=1000000 make bench`); each section names the size it reached.",
             "", "![ratios to targets](benchmarks.png)", ""]
    for r in results:
        passed = sum(met for *_, met in targets(r))
        lines += [f"## {r['store']}, {r['small']:,} and {r['head']:,} events", "",
                  f"wrk -t{r['wrk']['threads']} -c{r['wrk']['connections']}, {r['seconds']:g} s per load, {r['rounds']} "
                  f"turns each ({r['size_rounds']} for store size); load average "
                  f"{' / '.join(f'{x:.1f}' for x in r['load_average_start'])} at the start, "
                  f"{' / '.join(f'{x:.1f}' for x in r['load_average_end'])} at the end (1 / 5 / 15 min). "
                  f"{_setups(r)}. {passed} of {len(targets(r))} targets met.", "",
                  "| target | measured | ratio / value | target | met |", "|---|---|---|---|---|"]
        for name, figure, value, target, met in targets(r):
            lines.append(f"| {name} | {figure} | {value:.2f} | {target} | {'yes' if met else '**no**'} |")
        lines += ["", "| absolute figures | |", "|---|---|"]
        for size, events in (("small", r["small"]), ("large", r["head"])):
            suffix = "" if size == "small" else "_large"
            lines += [f"| (a) hello-world, at {events:,} events | {_rate(r[f'a_hello{suffix}'], 'req/s')} |",
                      f"| workload GET at {events:,} events | {_rate(r[f'workload_{size}'], 'req/s')} |",
                      f"| case list GET at {events:,} events | {_rate(r[f'list_{size}'], 'req/s')} |",
                      f"| (b) thin write at {events:,} events | {_rate(r[f'b_thin_write{suffix}'])} |",
                      f"| Pilar write (signed-in follow-up) at {events:,} events | {_rate(r[f'write_{size}'])} |"]
        lines += [f"| (c) eventsourcing raw save, one process | {r['c_raw_save']['per_s']} saves/s |",
                  f"| Pilar write, in turns: a {r['small']:,}-event store | {_rate(r['size_small'])} |",
                  f"| Pilar write, in turns: the {r['head']:,}-event store | {_rate(r['size_large'])} |",
                  f"| workload GET, one connection | {_rate(r['workload_latency'], 'req/s')} |",
                  f"| rebuild of every view at {r['rebuild']['events']:,} events | {r['rebuild']['seconds']} s "
                  f"({r['rebuild']['events_per_s']:,} events/s) |",
                  f"| verify at {r['verify']['events']:,} events | {r['verify']['seconds']} s "
                  f"({r['verify']['events_per_s']:,} events/s; 1,000,000 events ≈ "
                  f"{1_000_000 / r['verify']['events_per_s']:.0f} s) |",
                  f"| projection lag under full write load ({r['lag']['writes_per_s']} writes/s) | "
                  f"p50 {r['lag']['p50_s']} s, p99 {r['lag']['p99_s']} s ({r['lag']['samples']} samples) |",
                  f"| RSS | master {r['rss_mb']['master']} MB, workers {r['rss_mb']['workers']} MB, projector "
                  f"{r['rss_mb']['projector']} MB |",
                  f"| case load (snapshots every 50 events) | {r['case_load']['short']['version']} events "
                  f"{r['case_load']['short']['ms']} ms; {r['case_load']['replacing']['version']} events replacing state "
                  f"{r['case_load']['replacing']['ms']} ms; {r['case_load']['growing']['version']} events adding "
                  f"follow-ups {r['case_load']['growing']['ms']} ms ({r['case_load']['ratio_growing']}×: the state "
                  "itself is 100× larger) |",
                  ""]
    lines.append("Raw figures: `bench/results.json`.")
    return "\n".join(lines) + "\n"


def _is_ratio(target: str) -> bool:
    """Targets on ratios are bare numbers ("≥ 0.8", "0.9 to 1.1"); the rest carry a unit."""
    return re.fullmatch(r"[^a-zA-Z/]+|[0-9.]+ to [0-9.]+", target) is not None


def chart(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
