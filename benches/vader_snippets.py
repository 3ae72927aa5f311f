#!/usr/bin/env python3
"""Writes two sentence files from the human-rated snippets that ship in the vaderSentiment
3.3.2 source package (MIT; Hutto and Gilbert, ICWSM 2014; each snippet's mean rating by at
least 20 raters, -4 to +4):

- tests/data/sentiment-general.tsv: 1,000 movie-review and tweet snippets with a 3-way
  sentence label (mean >= 1 positive, <= -1 negative, |mean| < 0.5 neutral; the band between is
  left out), 167/167/166 per label per source, picked by a hash of the snippet id. Training only
  (`shopgraph finetune --general`): sentences from outside clothing so the sentence head does
  not learn clothing's phrasing alone ("will be going back" means a return there).
- tests/data/sentiment-snippets-amazon-huliu.tsv: the 2,455 Amazon product-review snippets
  (Hu and Liu 2004; cameras, DVD and MP3 players, phones) with |mean| >= 1, as 0/1. Never
  trained on and never used to choose anything: another shop's review sentences, scored at the
  end of each fine-tuning run and by benches/aspects_eval.py.

Run from the repository root: python3 benches/vader_snippets.py (fetches the package with pip).
"""
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def snippets(inner: tarfile.TarFile, name: str):
    f = inner.extractfile(f"hutto_ICWSM_2014/{name}_GroundTruth.txt")
    for line in io.TextIOWrapper(f, encoding="utf-8", errors="replace"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 3 and parts[2].strip():
            yield parts[0], float(parts[1]), " ".join(parts[2].split())


def label(mean: float):
    if mean >= 1:
        return "positive"
    if mean <= -1:
        return "negative"
    if abs(mean) < 0.5:
        return "neutral"
    return None


def main():
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "vaderSentiment==3.3.2", "-d", d, "-q"], check=True)
        outer = tarfile.open(next(Path(d).glob("vaderSentiment-*.tar.gz")))
        blob = outer.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz").read()
    inner = tarfile.open(fileobj=io.BytesIO(blob))
    rows = []
    for source, per in (("movieReviewSnippets", (167, 167, 166)), ("tweets", (167, 167, 166))):
        by = {"negative": [], "neutral": [], "positive": []}
        for sid, mean, text in snippets(inner, source):
            lab = label(mean)
            if lab:
                by[lab].append((hashlib.sha256(f"{source}:{sid}".encode()).hexdigest(), sid, text, lab))
        for (lab, items), n in zip(by.items(), per):
            for _, sid, text, lab in sorted(items)[:n]:
                rows.append((f"vader-{source}-{sid}", text, lab))
    out = ROOT / "tests/data/sentiment-general.tsv"
    with open(out, "w", encoding="utf-8") as f:
        f.write("# vaderSentiment 3.3.2 (MIT), hutto_ICWSM_2014: movie-review and tweet snippets, mean human rating"
                " >= 1 positive, <= -1 negative, |mean| < 0.5 neutral; written by benches/vader_snippets.py\n")
        f.write("id\ttext\taspects\tsentiment\tlabels\n")
        for sid, text, lab in rows:
            f.write(f"{sid}\t{text}\t\t{lab}\tpartial\n")
    n = 0
    out2 = ROOT / "tests/data/sentiment-snippets-amazon-huliu.tsv"
    with open(out2, "w", encoding="utf-8") as f:
        f.write("text\tlabel\n")
        for _, mean, text in snippets(inner, "amazonReviewSnippets"):
            if abs(mean) >= 1:
                f.write(f"{text}\t{int(mean > 0)}\n")
                n += 1
    print(f"{out}: {len(rows)} rows; {out2}: {n} rows")


if __name__ == "__main__":
    main()
