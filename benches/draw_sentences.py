#!/usr/bin/env python3
"""Draws review sentences to label by tests/data/aspects/GUIDELINES.md: reviews with review_id >=
5000 (none of train.tsv's) that no file in tests/data/aspects draws on, one sentence of 4 to 45
words each; the first half at random, the second half among sentences naming a fit or style cue
(where the review model misses most on the development share). Prints `n<TAB>id<TAB>text`; the
labels are added by hand. tests/data/aspects/guided-sentences.tsv holds three draws of 200: seed
20261202 drawn before that file existed, then seed 20261203 with the first draw's 200 rows in it,
then seed 20261204 with the first 400 (to draw one again, move the file aside, then put back only
the rows drawn before it):

    python3 benches/draw_sentences.py [--seed 20261202] [--n 200] [--cued 0.5] [--reviews CSV]

`--cued 0` draws every sentence at random: tests/data/aspects/choice-sentences.tsv (seed 20261205,
250 rows) was drawn that way, to score candidate models on sentences as a shop has them.
"""
import argparse, csv, pathlib, random, re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CUE = re.compile(r"\b(fit|fits|fitting|fitted|cut|shape|shapeless|loose|tight|boxy|flatter\w*|style|styling|look|looks|"
                 r"design|drape\w*|cute|clingy|cling|snug|roomy|baggy|sits|hangs|tent|frumpy|silhouette|neckline|"
                 r"unflattering)\b", re.I)


def sentences(text):
    text = re.sub(r"\s+", " ", text.strip())
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--cued", type=float, default=0.5, help="share of the draw among fit or style cues")
    ap.add_argument("--reviews", default=str(ROOT.parent / "shared/data/womens-clothing-reviews.csv"))
    ap.add_argument("--train", default=str(ROOT.parent / "shared/data/aspects/train.tsv"))
    a = ap.parse_args()
    used = set()
    files = list((ROOT / "tests/data/aspects").glob("*.tsv")) + [pathlib.Path(a.train)]
    for f in files:
        if f.exists():
            used.update(int(m.group(1)) for m in re.finditer(r"(?m)^t-r(\d+)s", f.read_text()))
    rows = [r for r in csv.DictReader(open(a.reviews, encoding="utf-8"))
            if int(r["review_id"]) >= 5000 and int(r["review_id"]) not in used and r["Review Text"].strip()]
    rng = random.Random(a.seed)
    rng.shuffle(rows)
    out = []
    for r in rows:
        ss = sentences(r["Review Text"])
        idx = [i for i, s in enumerate(ss) if 4 <= len(s.split()) <= 45]
        if len(out) >= round(a.n * (1 - a.cued)):
            idx = [i for i in idx if CUE.search(ss[i])]
        if not idx:
            continue
        i = rng.choice(idx)
        out.append((f"t-r{r['review_id']}s{i}", ss[i]))
        if len(out) >= a.n:
            break
    for n, (key, text) in enumerate(out):
        print(f"{n}\t{key}\t{text}")


if __name__ == "__main__":
    main()
