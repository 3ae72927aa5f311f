# On the GPU machine: rebuilds an f32 safetensors base from the fp16 pack (unused embedding rows zero).
import numpy as np, sys, os, shutil
from safetensors.numpy import save_file
d = np.load(".gpu/base-fp16.npz")
out = {}
for k in d.files:
    if not k.startswith("__"):
        out[k] = d[k].astype(np.float32)
emb = np.zeros(tuple(d["__emb_shape"]), dtype=np.float32)
emb[d["__emb_ids"]] = d["__emb_rows"].astype(np.float32)
out["embeddings.word_embeddings.weight"] = emb
dst = sys.argv[1]
os.makedirs(dst, exist_ok=True)
save_file(out, os.path.join(dst, "model.safetensors"))
shutil.copy(".gpu/tokenizer.json", dst)
open(os.path.join(dst, "minilm-gpu.toml"), "w").write('''id = "minilm-gpu"
version = "1.0.0"
task = "encoder-weights"
licence = "Apache-2.0"
description = "all-MiniLM-L6-v2 rounded to fp16 (moved under the transfer limit), unused embedding rows zero"
attention_heads = 12

[weights]
file = "model.safetensors"

[tokenizer]
file = "tokenizer.json"
''')
print("base rebuilt", len(out), "tensors")
