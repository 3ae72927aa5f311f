#!/usr/bin/env python3
"""Writes tests/data/sentiment-titles-clothing.tsv: review titles of the clothing reviews
(tests/data/demo/womens-clothing-reviews.csv, CC0) as positive/negative sentences, titles of
5-star reviews positive and of 1- and 2-star reviews negative, deduplicated, as many positive as
negative (the positives taken in the order of a BLAKE2b hash of the text). No run in the
shipped recipes trains on titles (`--titles-per-label 0`); the ninth session chose between model
soups on this set and the development share, so it is a selection set, not a test set.

    python3 benches/clothing_titles.py"""
import csv, hashlib, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
pos, neg = [], []
for r in csv.DictReader(open(ROOT / "tests/data/demo/womens-clothing-reviews.csv", encoding="utf-8")):
    t = (r.get("Title") or "").strip()
    if not t:
        continue
    rating = int(r["Rating"])
    if rating <= 2:
        neg.append(t)
    elif rating == 5:
        pos.append(t)
key = lambda s: hashlib.blake2b(s.encode(), digest_size=8).hexdigest()
neg = sorted(set(neg), key=key)
pos = sorted(set(pos), key=key)[: len(neg)]
out = ROOT / "tests/data/sentiment-titles-clothing.tsv"
with open(out, "w", encoding="utf-8") as f:
    f.write("text\tlabel\n")
    for t in pos:
        f.write(t.replace("\t", " ") + "\t1\n")
    for t in neg:
        f.write(t.replace("\t", " ") + "\t0\n")
print(f"{out}: {len(pos)} positive, {len(neg)} negative")
