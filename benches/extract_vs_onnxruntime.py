#!/usr/bin/env python3
"""Side-by-side benchmark: sentences per second of `shopgraph analyze` (Rust: ort + tokenizers,
length-bucketed batches, tokenising on its own thread) against Python onnxruntime 1.31 on the same
ONNX file (the fine-tuned review model: aspects, polarities, sentence sentiment), the same batch
size and the same sentences, in one run. The Python side is the usual loop: batches in input
order, padded to the longest member. SHOPGRAPH_BIN points at another build.

    cargo build --release && python3 benches/extract_vs_onnxruntime.py [--sentences 2000] [--batch 32]

Sentences: the first N sentences (split as shopgraph splits them: on . ! ? and line breaks) of the
clothing reviews in tests/data/demo. Both sides load the model files from the model cache that
.ci/fetch-models.py fills. Both are timed from the first sentence read to the last result written
(model loading excluded on both sides). Writes benches/results/extract_vs_onnxruntime.json.
Needs a venv with onnxruntime==1.31.1, tokenizers and numpy (~/.cache/shopgraph-bench/venv).
"""
import argparse, csv, json, os, pathlib, re, subprocess, sys, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path.home() / ".cache" / "shopgraph-bench"
VENV = CACHE / "venv"
MODELS = pathlib.Path(os.environ.get("SHOPGRAPH_MODEL_CACHE") or pathlib.Path.home() / ".cache/shopgraph/models")


def ensure_venv():
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "onnxruntime==1.31.1", "tokenizers", "numpy<2.3"], check=True)
    if os.environ.get("SG_BENCH_IN_VENV") != "1":
        os.execve(str(py), [str(py), __file__, *sys.argv[1:]], {**os.environ, "SG_BENCH_IN_VENV": "1"})


def sentences(n):
    out = []
    with open(ROOT / "tests/data/demo/womens-clothing-reviews.csv", newline="") as f:
        for row in csv.DictReader(f):
            for s in re.split(r"(?<=[.!?])\s+|\n", row["Review Text"] or ""):
                s = s.strip()
                if re.search(r"\w", s):
                    out.append(s)
                    if len(out) == n:
                        return out
    return out


def review_model():
    """The review model's ONNX file as shopgraph builds it into the model cache (id and file from
    models/review-minilm.toml)."""
    import tomllib
    m = tomllib.loads((ROOT / "models" / "review-minilm.toml").read_text())
    path = MODELS / m["id"] / m["onnx"]["file"]
    if not path.exists():
        sys.exit(f"{path} is missing: run `shopgraph analyze` once so it is built")
    return path, m["inference"]["max_length"]


def python_side(sents, batch, threads, device):
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    path, max_len = review_model()
    tok = Tokenizer.from_file(str(MODELS / "all-minilm-l6-v2" / "tokenizer.json"))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest of each batch
    tok.enable_truncation(max_length=max_len)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    sess = ort.InferenceSession(str(path), opts, providers=providers)
    polarities = ["negative", "neutral", "positive"]
    labels = []
    padded = real = 0
    t0 = time.perf_counter()
    for i in range(0, len(sents), batch):
        enc = tok.encode_batch(sents[i:i + batch])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        detect, polarity, sentence = sess.run(["detect", "polarity", "sentence"], {"input_ids": ids, "attention_mask": mask})
        labels.extend(polarities[k] for k in sentence.argmax(1))
        padded += ids.size
        real += int(mask.sum())
    dt = time.perf_counter() - t0
    return dt, labels, real / padded


def rust_side(sents, batch, device):
    exe = pathlib.Path(os.environ.get("SHOPGRAPH_BIN") or ROOT / "target" / "release" / "shopgraph")
    if not exe.exists():
        sys.exit("build first: cargo build --release")
    env = {**os.environ, "RUST_LOG": "info"}
    p = subprocess.run([str(exe), "analyze", "--memory", "--batch", str(batch), "--device", device, "--timing"],
                       input="\n".join(sents) + "\n", capture_output=True, text=True, env=env, cwd=ROOT)
    if p.returncode != 0:
        sys.exit(p.stderr)
    rows = [json.loads(l) for l in p.stdout.splitlines()]
    timing = json.loads([l for l in p.stderr.splitlines() if l.startswith("{\"timing\"")][-1])["timing"]
    return timing["seconds"], [r["sentiment"]["label"] for r in rows], timing


def main():
    ensure_venv()
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    sents = sentences(a.sentences)
    runs = []
    for r in range(a.repeats):
        # Alternate who goes first so warm caches and turbo states do not favour one side.
        order = ["python", "rust"] if r % 2 == 0 else ["rust", "python"]
        got = {}
        for side in order:
            got[side] = python_side(sents, a.batch, a.threads, a.device) if side == "python" else rust_side(sents, a.batch, a.device)
        py_s, py_labels, fill = got["python"]
        rs_s, rs_labels, timing = got["rust"]
        agree = sum(x == y for x, y in zip(py_labels, rs_labels)) / len(sents)
        runs.append({"python_seconds": py_s, "rust_seconds": rs_s, "ratio": py_s / rs_s, "label_agreement": agree,
                     "python_padding_fill": fill, "rust_units": timing["units"], "rust_device": timing["device"]})
        print(f"run {r}: python {len(sents)/py_s:.1f}/s, shopgraph {len(sents)/rs_s:.1f}/s, ratio {py_s/rs_s:.2f}, "
              f"labels agree {agree:.3f}, python batches {fill:.0%} real tokens", file=sys.stderr)
    ratios = sorted(r["ratio"] for r in runs)
    out = {"sentences": len(sents), "batch": a.batch, "threads": a.threads, "device": a.device,
           "median_ratio": ratios[len(ratios) // 2], "runs": runs}
    (ROOT / "benches/results").mkdir(exist_ok=True)
    name = "extract_vs_onnxruntime.json" if a.device == "cpu" else f"extract_vs_onnxruntime_{a.device}.json"
    (ROOT / "benches/results" / name).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
