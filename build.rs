//! Embeds queries/*.rq (served) and queries/internal/*.rq (used by the engine) into the binary,
//! so a server started anywhere has them.

use std::fmt::Write;
use std::path::Path;

fn embed(out: &mut String, name: &str, dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("queries folder exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rq"))
        .collect();
    files.sort();
    writeln!(out, "/// Embedded queries: (file name, text).\npub const {name}: &[(&str, &str)] = &[").expect("write");
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        let file = f.file_name().and_then(|n| n.to_str()).expect("utf-8 file name");
        writeln!(out, "    ({file:?}, include_str!({:?})),", f.display().to_string()).expect("write");
    }
    out.push_str("];\n");
}

fn main() {
    // Read at run time: env!() would bake in the path of whichever clone first compiled this
    // script, and a target directory shared between clones would then read the wrong tree.
    let root = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR")).join("queries");
    let mut out = String::new();
    embed(&mut out, "BUILTIN", &root);
    embed(&mut out, "INTERNAL", &root.join("internal"));
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("builtin_queries.rs");
    std::fs::write(dest, out).expect("write builtin_queries.rs");
}
