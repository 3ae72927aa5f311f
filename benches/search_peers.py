"""Side-by-side product search on the demo catalogue: shopgraph's /search (over HTTP, the real
server) against what a shop would stitch together itself, on the labelled query set
tests/data/search (judged from the raw CSV; see its GUIDELINES.md):

- BM25 alone: bm25s with Snowball English stemming and English stop words over each product's
  text (category path, review titles and texts), and tantivy-py with its defaults;
- dense alone: the same encoder shopgraph uses (all-MiniLM-L6-v2 int8, ONNX through Python
  onnxruntime, mean pooling, 256 tokens), a product's vector the normalised mean of its
  reviews' vectors (as shopgraph's extraction stores it);
- stitched: reciprocal rank fusion (k = 60) of the bm25s and dense lists.

nDCG@10, recall@100 and MRR per split (dev: used to choose settings; test: untouched) and per
query kind; p50/p99 latency of each. Writes benches/results/search_peers.json and .svg.

    python3 benches/search_peers.py --data DIR   # a demo store after `shopgraph extract`
"""
import argparse, collections, csv, json, math, os, pathlib, socket, subprocess, sys, time, urllib.parse, urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path.home() / ".cache/shopgraph-bench"
VENV = CACHE / "venv"
MODELS = pathlib.Path(os.environ.get("SHOPGRAPH_MODEL_CACHE") or pathlib.Path.home() / ".cache/shopgraph/models")


def ensure_venv():
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "onnxruntime==1.31.1", "tokenizers", "numpy<2.3",
                    "bm25s==0.3.16", "PyStemmer", "tantivy==0.27.0"], check=True)
    if os.environ.get("SG_BENCH_IN_VENV") != "1":
        os.execve(str(py), [str(py), __file__, *sys.argv[1:]], {**os.environ, "SG_BENCH_IN_VENV": "1"})


def load_set():
    qs = []
    with open(ROOT / "tests/data/search/queries.tsv") as f:
        next(f)
        for line in f:
            qid, q, kind, split = line.rstrip("\n").split("\t")
            qs.append({"qid": qid, "q": q, "kind": kind, "split": split})
    grades = collections.defaultdict(dict)
    with open(ROOT / "tests/data/search/queries.qrels.tsv") as f:
        next(f)
        for line in f:
            qid, pid, g = line.rstrip("\n").split("\t")
            grades[qid][pid] = int(g)
    return qs, grades


def metrics(ranked, grades):
    gain = lambda g: 2 ** g - 1
    dcg = sum(gain(grades.get(p, 0)) / math.log2(i + 2) for i, p in enumerate(ranked[:10]))
    ideal = sorted(grades.values(), reverse=True)[:10]
    idcg = sum(gain(g) / math.log2(i + 2) for i, g in enumerate(ideal))
    rel = sum(1 for g in grades.values() if g >= 1)
    found = sum(1 for p in ranked[:100] if grades.get(p, 0) >= 1)
    rr = next((1 / (i + 1) for i, p in enumerate(ranked) if grades.get(p, 0) >= 2), 0.0)
    return (dcg / idcg if idcg else 0.0, found / rel if rel else 0.0, rr)


def catalogue():
    docs = collections.defaultdict(lambda: {"path": "", "reviews": []})
    with open(ROOT / "tests/data/demo/womens-clothing-reviews.csv", newline="") as f:
        for r in csv.DictReader(f):
            d = docs[r["Clothing ID"]]
            d["path"] = " > ".join(x for x in (r["Division Name"], r["Department Name"], r["Class Name"]) if x)
            text = " ".join(x for x in (r["Title"], r["Review Text"]) if x)
            if text.strip():
                d["reviews"].append(text)
    ids = sorted(docs, key=int)
    return ids, docs


class Encoder:
    def __init__(self):
        import onnxruntime as ort
        from tokenizers import Tokenizer
        d = MODELS / "all-minilm-l6-v2-int8"
        self.tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tok.enable_truncation(max_length=256)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = os.cpu_count()
        self.sess = ort.InferenceSession(str(d / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.sess.get_inputs()]

    def __call__(self, texts):
        import numpy as np
        out = []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vecs = [None] * len(texts)
        for s in range(0, len(order), 64):
            idx = order[s:s + 64]
            enc = self.tok.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            h = self.sess.run(None, feed)[0]
            m = mask[..., None].astype(np.float32)
            v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            for j, i in enumerate(idx):
                vecs[i] = v[j]
        return np.stack(vecs)


def product_vectors(enc, ids, docs):
    import numpy as np
    path = CACHE / "search_peer_vectors.npy"
    if path.exists():
        v = np.load(path)
        if v.shape[0] == len(ids):
            return v
    out = []
    t0 = time.time()
    for n, pid in enumerate(ids):
        texts = docs[pid]["reviews"] or [docs[pid]["path"]]
        m = enc(texts).mean(0)
        out.append(m / max(np.linalg.norm(m), 1e-12))
        if n % 100 == 0:
            print(f"  dense peer: {n}/{len(ids)} products embedded ({time.time() - t0:.0f} s)", file=sys.stderr)
    v = np.stack(out)
    np.save(path, v)
    return v


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ensure_venv()
    import numpy as np
    import bm25s, Stemmer, tantivy
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="a demo data folder with extraction run")
    ap.add_argument("--bin", default=os.environ.get("SHOPGRAPH_BIN") or str(ROOT / "target/release/shopgraph"))
    a = ap.parse_args()
    qs, grades = load_set()
    ids, docs = catalogue()
    texts = [docs[p]["path"] + " " + " ".join(docs[p]["reviews"]) for p in ids]

    stem = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)

    schema_b = tantivy.SchemaBuilder()
    schema_b.add_text_field("body", stored=False)
    schema_b.add_text_field("pid", stored=True)
    schema = schema_b.build()
    tix = tantivy.Index(schema)
    w = tix.writer()
    for p, t in zip(ids, texts):
        w.add_document(tantivy.Document(body=t, pid=p))
    w.commit()
    tix.reload()
    tsearch = tix.searcher()

    enc = Encoder()
    pv = product_vectors(enc, ids, docs)

    def bm25(q):
        toks = bm25s.tokenize([q], stopwords="en", stemmer=stem, show_progress=False)
        if not toks.vocab:
            return []
        res, scores = retriever.retrieve(toks, k=100, show_progress=False)
        return [ids[i] for i, s in zip(res[0], scores[0]) if s > 0]

    def tantivy_default(q):
        clean = "".join(c if c.isalnum() or c.isspace() else " " for c in q)
        if not clean.strip():
            return []
        query = tix.parse_query(clean, ["body"])
        return [tsearch.doc(addr)["pid"][0] for _, addr in tsearch.search(query, 100).hits]

    def dense(q):
        v = enc([q])[0]
        s = pv @ v
        top = np.argsort(-s)[:100]
        return [ids[i] for i in top]

    def rrf(*lists):
        score = collections.defaultdict(float)
        for l in lists:
            for r, p in enumerate(l):
                score[p] += 1 / (60 + r + 1)
        return [p for p, _ in sorted(score.items(), key=lambda x: -x[1])][:100]

    port = free_port()
    server = subprocess.Popen([a.bin, "serve", "--data", a.data, "--bind", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except Exception:
                time.sleep(0.2)

        def shopgraph(mode):
            def run(q):
                url = f"http://127.0.0.1:{port}/search?" + urllib.parse.urlencode({"q": q, "k": 100, "mode": mode, "facets": "true"})
                with urllib.request.urlopen(url, timeout=30) as r:
                    return [h["id"] for h in json.load(r)["results"]]
            return run

        # Warm the encoder session on both sides.
        shopgraph("full")("warm up"); dense("warm up")
        systems = {
            "bm25s (stemmed, stop words)": bm25,
            "tantivy-py defaults": tantivy_default,
            "dense (same encoder, onnxruntime)": dense,
            "stitched BM25 + dense (RRF)": lambda q: rrf(bm25(q), dense(q)),
            "shopgraph keyword": shopgraph("keyword"),
            "shopgraph semantic": shopgraph("semantic"),
            "shopgraph hybrid (no graph)": shopgraph("hybrid"),
            "shopgraph /search": shopgraph("full"),
        }
        report = {"queries": len(qs), "systems": {}}
        for name, f in systems.items():
            per = {"dev": [], "test": []}
            kinds = collections.defaultdict(list)
            lat = []
            for q in qs:
                t0 = time.perf_counter()
                ranked = f(q["q"])
                lat.append((time.perf_counter() - t0) * 1000)
                m = metrics(ranked, grades[q["qid"]])
                per[q["split"]].append(m)
                if q["split"] == "test":
                    kinds[q["kind"]].append(m[0])
            avg = lambda ms, i: sum(x[i] for x in ms) / max(len(ms), 1)
            lat.sort()
            report["systems"][name] = {
                split: {"ndcg10": avg(ms, 0), "recall100": avg(ms, 1), "mrr": avg(ms, 2), "n": len(ms)} for split, ms in per.items()
            }
            report["systems"][name]["test_ndcg10_by_kind"] = {k: sum(v) / len(v) for k, v in sorted(kinds.items())}
            report["systems"][name]["latency_ms"] = {"p50": lat[len(lat) // 2], "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))]}
            t = report["systems"][name]["test"]
            print(f"{name:<36} test nDCG@10 {t['ndcg10']:.4f} recall@100 {t['recall100']:.4f} MRR {t['mrr']:.4f}"
                  f"   dev nDCG@10 {report['systems'][name]['dev']['ndcg10']:.4f}   p50 {lat[len(lat)//2]:.1f} ms", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = ROOT / "benches/results/search_peers.json"
    out.write_text(json.dumps(report, indent=2))
    svg(report, ROOT / "benches/results/search_peers.svg")
    print(json.dumps({k: v["test"]["ndcg10"] for k, v in report["systems"].items()}, indent=2))


def svg(report, path):
    names = list(report["systems"])
    vals = [report["systems"][n]["test"]["ndcg10"] for n in names]
    w, bar, gap, left = 760, 22, 8, 260
    h = 40 + len(names) * (bar + gap)
    top = max(vals + [0.01])
    rows = []
    for i, (n, v) in enumerate(zip(names, vals)):
        y = 30 + i * (bar + gap)
        bw = (w - left - 80) * v / top
        colour = "#2b6cb0" if n.startswith("shopgraph") else "#a0aec0"
        rows.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="12">{n}</text>'
                    f'<rect x="{left}" y="{y}" width="{bw:.1f}" height="{bar}" fill="{colour}"/>'
                    f'<text x="{left + bw + 6:.1f}" y="{y + 15}" font-size="12">{v:.3f}</text>')
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">'
                    f'<text x="10" y="18" font-size="13">nDCG@10 on the untouched test share ({report["systems"][names[0]]["test"]["n"]} queries, demo catalogue)</text>'
                    + "".join(rows) + "</svg>")


if __name__ == "__main__":
    main()
