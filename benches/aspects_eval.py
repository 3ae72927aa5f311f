#!/usr/bin/env python3
"""Scores `shopgraph analyze` as a shop would use it (whole sentences in, aspects and sentiment
out, through the served path) on the untouched test share: the fifth of reviews that
`shopgraph finetune` never trains on (BLAKE3 of "sentences:<review id>", first byte % 5 == 0)
of tests/data/aspects/sentences.tsv, the same share of the Amazon sentences, and positive vs
negative on the Yelp and IMDB sentences of the same UCI collection and on Hu and Liu's human-rated
Amazon product-review snippets (never trained on). Run it against
any models folder to compare paths side by side, e.g. the review model against the older
lexicon + sentiment-head path (a folder without models/review-minilm.*):

    python3 benches/aspects_eval.py [--bin target/release/shopgraph] [--models DIR] [--label NAME]
        [--sentences tests/data/aspects/choice-sentences.tsv]

`--sentences FILE` scores every row of an aspect-labelled file in place of the test share
(choice-sentences.tsv: the set candidate models were chosen on in the sixteenth session).

Writes benches/results/aspects_eval-<label>.json. Needs `blake3` (pip) in the interpreter."""
import argparse, json, os, pathlib, subprocess, sys
from blake3 import blake3

ROOT = pathlib.Path(__file__).resolve().parent.parent
POL = ["negative", "neutral", "positive"]


def in_test(key):
    return blake3(key.encode()).digest()[0] % 5 == 0


def load(every_row_of=None):
    rows = []
    source = pathlib.Path(every_row_of) if every_row_of else ROOT / "tests/data/aspects/sentences.tsv"
    lines = [l for l in source.read_text().splitlines() if not l.startswith("#")]
    head = lines[0].split("\t")
    for l in lines[1:]:
        c = dict(zip(head, l.split("\t")))
        review = c["id"][3:].split("s")[0]
        if every_row_of or in_test(f"sentences:{review}"):
            asp = dict(a.split(":") for a in c["aspects"].split(";") if a)
            rows.append((c["text"], asp, c["sentiment"]))
    amazon = []
    for n, l in enumerate((ROOT / "tests/data/sentiment-sentences-amazon.tsv").read_text().splitlines()[1:]):
        t, _, lab = l.rstrip("\r").rpartition("\t")
        if t.strip() and in_test(f"sentiment-sentences-amazon:{n}"):
            amazon.append((t, "positive" if lab == "1" else "negative"))
    return rows, amazon


def analyze(exe, models, texts):
    cmd = [exe, "analyze", "--memory"] + (["--models", models] if models else [])
    p = subprocess.run(cmd, input="\n".join(texts) + "\n", capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        sys.exit(p.stderr)
    return [json.loads(l) for l in p.stdout.splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target/release/shopgraph"))
    ap.add_argument("--models", default=None)
    ap.add_argument("--label", default="default")
    ap.add_argument("--sentences", default=None, help="score every row of this aspect-labelled file")
    a = ap.parse_args()
    rows, amazon = load(a.sentences)
    got = analyze(a.bin, a.models, [r[0] for r in rows])
    tp = fp = fn = pol_right = sent_right = 0
    conf = [[0] * 3 for _ in range(3)]
    for (text, gold, sent), out in zip(rows, got):
        found = {}
        for m in out["aspects"]:
            found.setdefault(m["aspect"], m["sentiment"])
        for k, v in found.items():
            if k in gold:
                tp += 1
                pol_right += v == gold[k]
            else:
                fp += 1
        fn += sum(1 for k in gold if k not in found)
        sent_right += out["sentiment"]["label"] == sent
        conf[POL.index(sent)][POL.index(out["sentiment"]["label"])] += 1
    def pos_neg(pairs):
        # Positive vs negative: which pole the text's probabilities lean to.
        outs = analyze(a.bin, a.models, [t for t, _ in pairs])
        right = sum((o["sentiment"]["probabilities"][2] > o["sentiment"]["probabilities"][0]) == (lab == "positive")
                    for (_, lab), o in zip(pairs, outs))
        return right / len(pairs)

    others = {}
    for name, file in (("yelp", "sentiment-sentences-yelp"), ("imdb", "sentiment-sentences-imdb"),
                       ("amazon_huliu", "sentiment-snippets-amazon-huliu")):
        # Never trained on by any model here: other kinds of reviews entirely, and another shop's
        # (Hu and Liu's product reviews, human-rated; benches/vader_snippets.py).
        lines = (ROOT / f"tests/data/{file}.tsv").read_text().splitlines()[1:]
        pairs = [(t, "positive" if l == "1" else "negative") for t, _, l in (x.rpartition("\t") for x in lines) if t.strip()]
        others[name] = {"sentences": len(pairs), "positive_vs_negative": pos_neg(pairs)}
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    res = {"label": a.label, "sentences": len(rows), "sentence_file": a.sentences or "test share of sentences.tsv", "aspect_precision": p, "aspect_recall": r,
           "aspect_f1": 2 * p * r / max(p + r, 1e-9), "aspect_polarity": pol_right / max(tp, 1),
           "sentence_3way": sent_right / len(rows), "sentence_confusion": conf,
           "amazon_sentences": len(amazon), "amazon_positive_vs_negative": pos_neg(amazon), "never_trained_on": others}
    (ROOT / "benches/results").mkdir(exist_ok=True)
    (ROOT / f"benches/results/aspects_eval-{a.label}.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
