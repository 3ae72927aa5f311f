# Packs the MiniLM base for the GPU machine under the 64 MiB transfer limit: every tensor as fp16,
# the word embeddings only for the token ids the fine-tuning data uses.
import numpy as np, glob
from safetensors.numpy import load_file
from tokenizers import Tokenizer
import os
base = os.path.join(os.environ.get("SHOPGRAPH_MODEL_CACHE", os.path.expanduser("~/.cache/shopgraph/models")), "all-minilm-l6-v2/")
os.makedirs(".gpu", exist_ok=True)
w = load_file(base + "model.safetensors")
tok = Tokenizer.from_file(base + "tokenizer.json")
ids = set(range(0, 1000))  # specials and unused slots
files = glob.glob("tests/data/aspects/*.tsv") + glob.glob("tests/data/sentiment-sentences-*.tsv")
n = 0
for f in files:
    for line in open(f, encoding="utf-8"):
        for col in line.rstrip("\n").split("\t"):
            if len(col) > 3:
                ids.update(tok.encode(col).ids); n += 1
ids = np.array(sorted(ids), dtype=np.int32)
print(len(files), "files", n, "fields", len(ids), "token ids used")
out = {"__emb_ids": ids}
for k, v in w.items():
    if k == "embeddings.word_embeddings.weight":
        out["__emb_rows"] = v[ids].astype(np.float16); out["__emb_shape"] = np.array(v.shape, dtype=np.int64)
    else:
        out[k] = v.astype(np.float16)
np.savez(".gpu/base-fp16.npz", **out)
