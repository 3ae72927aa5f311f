#!/bin/bash
# One device call: a CUDA fine-tune of the default recipe (timed), then seeds/ranks in parallel.
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.gpu/shopgraph.xz'), open('/tmp/sg','wb'))" && chmod +x /tmp/sg
L=$(python3 - <<'P'
import os, glob
dirs=set()
for pat in ["libcudart.so.13*","libcublas.so.13*","libcublasLt.so.13*","libcurand.so.10*","libnvrtc.so.13*"]:
    for root in ["/opt/torch/.venv","/usr/local/cuda","/usr/lib/x86_64-linux-gnu","/usr/local/lib/python3.12"]:
        for f in glob.glob(root+"/**/"+pat, recursive=True):
            dirs.add(os.path.dirname(f))
print(":".join(sorted(dirs)))
P
)
export LD_LIBRARY_PATH=$L:/usr/local/nvidia/lib64:${LD_LIBRARY_PATH}
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
python3 .gpu/rebuild_base.py /tmp/gm || exit 1
export SHOPGRAPH_MODEL_CACHE=/tmp/sgcache RUST_LOG=warn
ldd /tmp/sg | grep -i "not found"
run() { # name, extra args
  local t0=$(date +%s.%N)
  /tmp/sg finetune --models /tmp/gm --base minilm-gpu --device cuda --id review-minilm --version "$1" --out /tmp/runs/$1 "${@:2}" > /tmp/runs/$1.json 2> /tmp/runs/$1.err
  local rc=$?
  echo "$1 rc=$rc wall=$(python3 -c "print(round($(date +%s.%N)-$t0,1))")s"; grep "test share" /tmp/runs/$1.err
}
mkdir -p /tmp/runs
# 1) the committed recipe, alone on the GPU: the speed-up figure.
timeout 250 bash -c "$(declare -f run); run r8-e12-s7 --epochs 12 --rank 8 --seed 7" || echo timed out
tail -5 /tmp/runs/r8-e12-s7.err
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
# 2) candidates side by side (chosen later on the development share only).
for c in "r8-e12-s1 --epochs 12 --rank 8 --seed 1" "r8-e12-s2 --epochs 12 --rank 8 --seed 2" "r8-e12-s3 --epochs 12 --rank 8 --seed 3" "r8-e16-s7 --epochs 16 --rank 8 --seed 7" "r16-e12-s7 --epochs 12 --rank 16 --seed 7" "r8-e12-s4-lr1 --epochs 12 --rank 8 --seed 4 --lr 1e-3"; do
  set -- $c; (timeout 290 bash -c "$(declare -f run); run $*") &
done
wait
for f in /tmp/runs/*.err; do echo "== $f"; tail -n 2 $f; done
cd /tmp/runs && tar czf $OUT/runs.tgz --exclude='*.onnx' . && ls -la $OUT
