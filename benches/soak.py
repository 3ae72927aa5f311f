#!/usr/bin/env python3
"""Soak: mixed load at the default limits for a long time, against the release binary on the
demo data; errors by status, p50/p99 latency and resident memory over time.

    cargo build --release && python3 benches/soak.py [--minutes 30] [--clients 16] [--warm]
        [--out NAME] [--port N] [--malloc-conf OPTS] [--shopgraph BINARY]

Two runs side by side (different --port and --out, half the clients each) compare two builds or
allocator settings under the same machine noise.

Each client thread loops over a weighted mix: SPARQL queries (catalogue questions, a few slow
aggregates), named queries, /recommend and /similar, SPARQL updates, Graph Store PUTs of a small
graph, event posts. Every minute it prints and records requests, errors by status (429 is the
pool saying "busy", counted apart), latency percentiles and the server's RSS; RSS is also
sampled once a second (each minute's low, median and high), and RocksDB's flushes and compactions
are seen as table files coming and going in the store's folder; each minute also records what
RocksDB says it holds (block cache, memtables, table readers: /metrics). Writes
benches/results/OUT.json and OUT.svg (default soak). Goal: no error other than 429, RSS growth
under 10%, reported two ways: from the end of the first minute to the end, and over the last two
thirds of the run (after the caches have filled; a leak keeps growing there).
"""
import argparse, json, os, pathlib, random, shutil, statistics, subprocess, sys, tempfile, threading, time
import urllib.error, urllib.parse, urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
SG = "https://w3id.org/shopgraph/ontology#"
QUERIES = [
    f"SELECT (COUNT(?r) AS ?n) WHERE {{ ?r a <{SG}Review> }}",
    f"PREFIX sg: <{SG}> SELECT ?p (AVG(?x) AS ?m) WHERE {{ ?r sg:reviewOf ?p ; sg:rating ?x }} GROUP BY ?p ORDER BY DESC(?m) LIMIT 20",
    f"PREFIX sg: <{SG}> SELECT ?r ?x WHERE {{ ?r sg:reviewOf <https://w3id.org/shopgraph/id/product/1078> ; sg:rating ?x }} LIMIT 100",
    f"PREFIX sg: <{SG}> SELECT ?r WHERE {{ ?r sg:text ?t FILTER(CONTAINS(LCASE(?t), \"linen\")) }} LIMIT 20",
]


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def mib(pid, field):
    return round(rss_kb(pid, field) / 1024, 1)


def smaps_by_file(pid):
    """Resident KiB per mapped file (anonymous mappings under their kind): which files the RSS is.
    A thread's stack is an anonymous mapping right above its guard page (an inaccessible one), so
    stacks are told from the allocator's mappings: pages a deep query touches once stay resident."""
    out, name, prev_end, prev_guard = {}, None, None, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                start, end = (int(x, 16) for x in head[0].split("-"))
                name = head[5] if len(head) > 5 else "[anon]"
                if name == "[anon]" and prev_guard and prev_end == start:
                    name = "[thread stacks]"
                prev_guard = len(head) <= 5 and head[1].startswith("---")
                prev_end = end
                if "/" in name:
                    name = name.rsplit("/", 2)[-2] + "/*" + pathlib.Path(name).suffix
            elif head[0] == "Rss:":
                out[name] = out.get(name, 0) + int(head[1])
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:12])


def quad_count(base):
    q = "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
    req = urllib.request.Request(base + "/sparql?" + urllib.parse.urlencode({"query": q}),
                                 headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return int(json.load(r)["results"]["bindings"][0]["n"]["value"])


def store_memory(base):
    """RocksDB's own accounting from /metrics (block cache, memtables, table readers) and the
    allocator's, in MiB, so that the bounded cache and what the allocator keeps can be told from
    the rest of the resident size; {} if not reported."""
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            text = r.read().decode()
    except Exception:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith('shopgraph_store_memory_bytes{part="'):
            part, value = line[len('shopgraph_store_memory_bytes{part="'):].split('"} ')
            out[part] = round(int(value) / 2**20, 1)
        # jemalloc's own accounting (allocated, active, metadata, resident, thread caches).
        elif line.startswith('shopgraph_allocator_bytes{part="'):
            part, value = line[len('shopgraph_allocator_bytes{part="'):].split('"} ')
            out["allocator_" + part] = round(int(value) / 2**20, 2)
        elif line.startswith("shopgraph_store_memtable_entries "):
            out["memtable_entries"] = int(line.split()[1])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--warm", action="store_true",
                    help="read every term of the store once before the load (as a server that has run a while has), so "
                         "that reading the data for the first time is not counted as growth")
    ap.add_argument("--compare", nargs="+", metavar="RUN",
                    help="draw no load: chart these runs' once-a-second RSS (results names, without .json) on one "
                         "picture, benches/results/OUT.svg")
    ap.add_argument("--breakdown", metavar="RUN",
                    help="draw no load: chart where one run's memory went each minute (growth since minute 1 of "
                         "anonymous RSS and of the allocator's and RocksDB's parts), benches/results/OUT.svg")
    ap.add_argument("--port", type=int, default=7531)
    ap.add_argument("--out", default="soak", help="results go to benches/results/OUT.json and OUT.svg")
    ap.add_argument("--malloc-conf", default=None,
                    help="jemalloc options for the server (MALLOC_CONF), to compare allocator settings side by side")
    ap.add_argument("--shopgraph", default=str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/shopgraph"))
    args = ap.parse_args()
    if args.compare:
        return compare([json.loads((ROOT / f"benches/results/{r}.json").read_text()) for r in args.compare],
                       args.compare, ROOT / f"benches/results/{args.out}.svg")
    if args.breakdown:
        return breakdown(json.loads((ROOT / f"benches/results/{args.breakdown}.json").read_text()),
                         args.breakdown, ROOT / f"benches/results/{args.out}.svg")
    sg = pathlib.Path(args.shopgraph)
    if not sg.exists():
        sys.exit(f"{sg} not found: cargo build --release")
    work = pathlib.Path(tempfile.mkdtemp(prefix="sg-soak-"))
    print("preparing the demo data (load, simulate, train; no extraction)...", flush=True)
    subprocess.run([sg, "demo", "--data", work, "--no-serve", "--extract", "0", "--demo-dir", ROOT / "tests/data/demo"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = args.port
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RUST_LOG": "warn,shopgraph=info"}
    if args.malloc_conf:
        env["MALLOC_CONF"] = args.malloc_conf
    server_log = open(work / "server.log", "w")
    server = subprocess.Popen([sg, "serve", "--data", work, "--bind", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=server_log, env=env)
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    users = [f"sim-{i:04d}" for i in range(1, 500)]
    items = ["1078", "862", "1094", "1081", "872", "829", "1110", "868", "895", "936"]

    lock = threading.Lock()
    window = {"lat": [], "status": {}, "n": 0}
    stop = time.time() + args.minutes * 60

    def request(method, path, body=None, ct=None):
        req = urllib.request.Request(base + path, data=body, method=method, headers={"Content-Type": ct} if ct else {})
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                r.read()
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        except Exception:
            code = 0  # connection error
        return code, time.perf_counter() - t

    def client(seed):
        rng = random.Random(seed)
        i = 0
        while time.time() < stop:
            i += 1
            r = rng.random()
            if r < 0.35:
                code, t = request("GET", "/sparql?" + urllib.parse.urlencode({"query": rng.choice(QUERIES)}))
            elif r < 0.6:
                code, t = request("GET", f"/recommend?user={rng.choice(users)}&k=10")
            elif r < 0.7:
                code, t = request("GET", f"/similar?item={rng.choice(items)}&k=10")
            elif r < 0.78:
                code, t = request("GET", f"/queries/product-reviews?product={rng.choice(items)}")
            elif r < 0.88:
                u = f"INSERT DATA {{ <http://ex.org/soak/{seed}/{i}> <http://ex.org/n> {i} }}"
                code, t = request("POST", "/sparql", u.encode(), "application/sparql-update")
            elif r < 0.94:
                ttl = f"<http://ex.org/s{seed}> <http://ex.org/last> {i} .".encode()
                code, t = request("PUT", f"/store?graph=http://ex.org/soak-graph/{seed}", ttl, "text/turtle")
            else:
                ev = json.dumps({"user": rng.choice(users), "item": rng.choice(items), "event": "view",
                                 "timestamp": f"2026-02-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"})
                code, t = request("POST", "/events", ev.encode(), "application/json")
            with lock:
                window["lat"].append(t)
                window["status"][code] = window["status"].get(code, 0) + 1
                window["n"] += 1

    rss_idle = round(rss_kb(server.pid) / 1024, 1)
    quads_start = quad_count(base)
    rss_warm = None
    if args.warm:
        # Decoding every subject, predicate, object and graph reads the whole string dictionary
        # (oxigraph gives its column family a block cache of its own, 128 MiB) and every index.
        # COALESCE: STR of a blank node is an error, and an error would end the sum early.
        q = ("SELECT (SUM(COALESCE(STRLEN(STR(?s)), 0) + STRLEN(STR(?p)) + COALESCE(STRLEN(STR(?o)), 0) "
             "+ COALESCE(STRLEN(STR(?g)), 0)) AS ?n) "
             "WHERE { { GRAPH ?g { ?s ?p ?o } } UNION { ?s ?p ?o BIND(<urn:default> AS ?g) } }")
        t = time.time()
        with urllib.request.urlopen(base + "/sparql?" + urllib.parse.urlencode({"query": q}), timeout=120) as r:
            r.read()
        rss_warm = round(rss_kb(server.pid) / 1024, 1)
        print(f"warmed in {time.time() - t:.1f} s: RSS {rss_idle} -> {rss_warm} MiB", flush=True)
    threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in range(args.clients)]
    for t in threads:
        t.start()
    minutes = []
    start = time.time()
    # RSS once a second: the one-a-minute readings swing by 25 MiB, so a minute's low, median and
    # high tell the floor (what the process keeps) from peaks (work in flight when sampled).
    # oxigraph has RocksDB log warnings only, so flushes and compactions are seen as table files
    # appearing and going in the store's folder.
    seconds, events = [], []

    def sampler():
        tables = sst_files(work / "store")
        while time.time() < stop:
            t = round(time.time() - start, 1)
            try:
                seconds.append((t, rss_kb(server.pid) / 1024))
            except OSError:
                return
            now = sst_files(work / "store")
            added, removed = now.keys() - tables.keys(), tables.keys() - now.keys()
            if added or removed:
                # Several files going at once is a compaction; files only added, a flush.
                events.append({"t": t, "what": "compaction" if removed else "flush", "added": len(added),
                               "added_mib": round(sum(now[f] for f in added) / 2**20, 1), "removed": len(removed)})
            tables = now
            time.sleep(1)
    threading.Thread(target=sampler, daemon=True).start()
    try:
        while time.time() < stop:
            time.sleep(min(60, max(0.1, stop - time.time())))
            with lock:
                lat, status, n = window["lat"], window["status"], window["n"]
                window.update(lat=[], status={}, n=0)
            lat.sort()
            since = (minutes[-1]["minute"] * 60) if minutes else 0
            this = sorted(r for t, r in seconds if t > since) or [0]
            row = {
                "minute": round((time.time() - start) / 60, 2),
                "requests": n,
                "status": {str(k): v for k, v in sorted(status.items())},
                "errors_other_than_429": sum(v for k, v in status.items() if k >= 500 or k == 0 or k in (400, 404, 408, 409, 422)),
                "p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
                "p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 2) if lat else None,
                "rss_mib": mib(server.pid, "VmRSS"),
                "rss_mib_low_median_high": [round(this[0], 1), round(this[len(this) // 2], 1), round(this[-1], 1)],
                # Anonymous memory is the heap; file pages are mapped files (the search index's
                # segments are memory-mapped), which the kernel can drop under pressure.
                "rss_anon_mib": mib(server.pid, "RssAnon"), "rss_file_mib": mib(server.pid, "RssFile"),
                "resident_kib_by_mapping": smaps_by_file(server.pid),
                "store_memory_mib": store_memory(base),
            }
            minutes.append(row)
            print(json.dumps(row), flush=True)
    finally:
        for t in threads:
            t.join(timeout=70)
        quads_end = quad_count(base)
        server.terminate()
        server.wait()
        server_log.close()
        events += server_events(work)
        shutil.rmtree(work, ignore_errors=True)
    first, last = minutes[0]["rss_mib"], minutes[-1]["rss_mib"]
    # A leak keeps growing; caches (RocksDB's block cache, the search writer's arena) fill once.
    # So besides growth from minute 1, growth over the last two thirds of the run.
    third = minutes[len(minutes) // 3 - 1]["rss_mib"] if len(minutes) >= 3 else first
    summary = {
        "minutes": args.minutes, "clients": args.clients, "requests": sum(m["requests"] for m in minutes),
        "errors_other_than_429": sum(m["errors_other_than_429"] for m in minutes),
        "status": {k: sum(m["status"].get(k, 0) for m in minutes) for k in sorted({k for m in minutes for k in m["status"]})},
        "rss_idle_mib": rss_idle, "warmed": args.warm, "rss_after_warming_mib": rss_warm, "rss_first_minute_mib": first, "rss_end_mib": last,
        "rss_growth": round(last / first - 1, 4) if first else None,
        "rss_after_first_third_mib": third, "rss_growth_last_two_thirds": round(last / third - 1, 4) if third else None,
        # The mix writes all the time, so the store grows; memory that grows with the data is not a leak.
        "quads_start": quads_start, "quads_end": quads_end,
        "p99_ms_max_minute": max(m["p99_ms"] or 0 for m in minutes),
        "malloc_conf": args.malloc_conf, "load_started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
        **floor_and_median_growth(minutes),
        "events": events, "per_minute": minutes, "per_second_rss_mib": [[t, round(r, 1)] for t, r in seconds],
    }
    out = ROOT / f"benches/results/{args.out}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    svg(minutes, ROOT / f"benches/results/{args.out}.svg", seconds, events)
    print(json.dumps({k: v for k, v in summary.items() if k != "per_minute"}, indent=2))


def floor_and_median_growth(minutes):
    """Growth of each minute's lowest and median once-a-second reading, from minute 1 and over the
    last two thirds: a leak lifts the floor; work in flight only lifts the highs."""
    rows = [m["rss_mib_low_median_high"] for m in minutes if "rss_mib_low_median_high" in m]
    if len(rows) < 3:
        return {}
    third = rows[len(rows) // 3 - 1]
    g = lambda a, b: round(b / a - 1, 4) if a else None
    return {"rss_floor_growth": g(rows[0][0], rows[-1][0]), "rss_median_growth": g(rows[0][1], rows[-1][1]),
            "rss_floor_growth_last_two_thirds": g(third[0], rows[-1][0]),
            "rss_median_growth_last_two_thirds": g(third[1], rows[-1][1])}


def sst_files(store):
    try:
        return {e.name: e.stat().st_size for e in os.scandir(store) if e.name.endswith(".sst")}
    except OSError:
        return {}


def server_events(work):
    """The server's own lines about retrains (its log has no clock of ours; kept as text)."""
    try:
        return [{"what": line[-160:]} for line in (work / "server.log").read_text(errors="replace").splitlines()
                if "retrain" in line]
    except OSError:
        return []


def svg(minutes, path, seconds=(), events=()):
    """RSS (once a second when sampled, else per minute) and p99 per minute, two stacked line
    charts; flushes and compactions marked on the first."""
    w, h, pad = 640, 180, 40
    def line(values, top, color, label):
        vmax = max(values) or 1
        pts = " ".join(f"{pad + i * (w - 2 * pad) / max(1, len(values) - 1):.1f},{top + h - pad - v / vmax * (h - 2 * pad):.1f}"
                       for i, v in enumerate(values))
        return (f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>'
                f'<text x="{pad}" y="{top + 16}" font-size="12">{label} (max {vmax:.1f})</text>')
    if seconds:
        body = line([r for _, r in seconds], 0, "#1f77b4", "RSS MiB, once a second")
        span = max(t for t, _ in seconds) or 1
        for e in events:
            if "t" in e and 0 <= e["t"] <= span:
                x = pad + e["t"] / span * (w - 2 * pad)
                color = "#2ca02c" if e["what"] == "flush" else "#ff7f0e"
                body += f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad}" y2="{h - pad}" stroke="{color}" stroke-width="0.5"/>'
        body += f'<text x="{w - pad}" y="16" font-size="10" text-anchor="end" fill="#555">green: flush, orange: compaction</text>'
    else:
        body = line([m["rss_mib"] for m in minutes], 0, "#1f77b4", "RSS MiB per minute")
    body += line([m["p99_ms"] or 0 for m in minutes], h, "#d62728", "p99 ms per minute")
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{2 * h}" font-family="sans-serif">{body}</svg>\n')


def compare(runs, names, path):
    """Several runs' once-a-second RSS on one chart (each line a run), with a legend."""
    w, h, pad = 720, 300, 50
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    series = [[(t, r) for t, r in run.get("per_second_rss_mib", [])] for run in runs]
    tmax = max(t for s in series for t, _ in s) or 1
    vmin = min(r for s in series for _, r in s)
    vmax = max(r for s in series for _, r in s)
    lo, hi = (vmin // 20) * 20, (vmax // 20 + 1) * 20
    x = lambda t: pad + t / tmax * (w - 2 * pad)
    y = lambda v: h - pad - (v - lo) / (hi - lo) * (h - 2 * pad)
    body = ""
    for v in range(int(lo), int(hi) + 1, 20):
        body += (f'<line x1="{pad}" x2="{w - pad}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                 f'<text x="{pad - 6}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">{v}</text>')
    for m in range(0, int(tmax / 60) + 1, 5):
        body += f'<text x="{x(m * 60):.1f}" y="{h - pad + 14}" font-size="10" text-anchor="middle">{m}</text>'
    for i, (s, name) in enumerate(zip(series, names)):
        c = colors[i % len(colors)]
        pts = " ".join(f"{x(t):.1f},{y(r):.1f}" for t, r in s)
        body += f'<polyline fill="none" stroke="{c}" stroke-width="1" points="{pts}"/>'
        body += f'<text x="{pad + 10}" y="{20 + 14 * i}" font-size="11" fill="{c}">{name}</text>'
    body += f'<text x="{w / 2}" y="{h - 8}" font-size="11" text-anchor="middle">minutes of load; RSS MiB once a second</text>'
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">{body}</svg>\n')
    print(f"wrote {path}")


def parts(minute):
    """One minute's memory by part, in MiB: what the kernel counts (anonymous RSS), what the
    program holds (allocated, with RocksDB's block cache and memtables inside it), and what the
    allocator keeps beside that (free space in partly used pages, its metadata, thread caches)."""
    m = minute["store_memory_mib"]
    return {
        "anonymous RSS": minute["rss_anon_mib"],
        "allocated (live)": m["allocator_allocated"],
        "RocksDB memtables": m["memtables"],
        "RocksDB block cache": m["block_cache"],
        "free in partly used pages": m["allocator_active"] - m["allocator_allocated"],
        "allocator metadata": m["allocator_metadata"],
        "thread caches": m["allocator_thread_caches"],
    }


def breakdown(run, name, path):
    """Growth since minute 1 of each part of the memory, one line per part, per minute."""
    reported = [m for m in run["per_minute"] if "allocator_allocated" in m.get("store_memory_mib", {})]
    if not reported:
        sys.exit(f"{name}: no allocator figures (the server did not report them)")
    rows, minutes = [parts(m) for m in reported], [m["minute"] for m in reported]
    w, h, pad = 720, 320, 50
    growth = {k: [r[k] - rows[0][k] for r in rows] for k in rows[0]}
    lo = min(min(v) for v in growth.values())
    hi = max(max(v) for v in growth.values())
    lo, hi = (lo // 2) * 2, (hi // 2 + 1) * 2
    x = lambda t: pad + (t - minutes[0]) / max(1e-9, minutes[-1] - minutes[0]) * (w - 2 * pad - 160)
    y = lambda v: h - pad - (v - lo) / (hi - lo) * (h - 2 * pad)
    colors = ["#000000", "#1f77b4", "#2ca02c", "#17becf", "#d62728", "#9467bd", "#ff7f0e"]
    body = ""
    for v in range(int(lo), int(hi) + 1, 2):
        body += (f'<line x1="{pad}" x2="{w - pad - 160}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{"#999" if v == 0 else "#ddd"}"/>'
                 f'<text x="{pad - 6}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">{v:+d}</text>')
    for i, (k, vs) in enumerate(growth.items()):
        c = colors[i % len(colors)]
        pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(minutes, vs))
        body += f'<polyline fill="none" stroke="{c}" stroke-width="{2.5 if i == 0 else 1.5}" points="{pts}"/>'
        body += f'<text x="{w - pad - 150}" y="{pad + 16 * i}" font-size="11" fill="{c}">{k} {vs[-1]:+.1f}</text>'
    body += (f'<text x="{(w - 160) / 2}" y="{h - 10}" font-size="11" text-anchor="middle">minute of load; '
             f'MiB gained since minute 1 ({name})</text>')
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">{body}</svg>\n')
    print(f"wrote {path}")
    for k, vs in growth.items():
        print(f"{k:>28}: minute 1 {rows[0][k]:6.1f} MiB, end {rows[-1][k]:6.1f}, {vs[-1]:+.1f}")


if __name__ == "__main__":
    main()
