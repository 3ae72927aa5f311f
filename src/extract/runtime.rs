//! The ONNX Runtime environment: the shared library is loaded once per process, and each session
//! says which device it runs on.

use super::ExtractError;
use ort::environment::Environment;
use ort::session::{Session, builder::GraphOptimizationLevel};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Where the runtime library is: `ORT_DYLIB_PATH`, else the file `.ci/fetch-models.py` put in the
/// cache.
pub fn library_path(cache: &Path) -> PathBuf {
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) => PathBuf::from(p),
        None => cache.join("onnxruntime").join("libonnxruntime.so.1.31.1"),
    }
}

/// The process-wide environment, loading the library on first use.
pub fn environment(cache: &Path) -> Result<&'static Environment, ExtractError> {
    let env = ENV.get_or_init(|| {
        let lib = library_path(cache);
        if !lib.is_file() {
            return Err(format!(
                "ONNX Runtime library not found at {}: run `python3 .ci/fetch-models.py` (part of `bash .ci/setup`) or set ORT_DYLIB_PATH",
                lib.display()
            ));
        }
        let builder = ort::init_from(&lib).map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?;
        let env = builder.with_name("shopgraph").build().map_err(|e| format!("ONNX Runtime environment: {e}"))?;
        log::info!("ONNX Runtime loaded from {}", lib.display());
        Ok(env)
    });
    env.as_ref().map_err(|e| ExtractError::Runtime(e.clone()))
}

/// Execution device a session ended up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The CPU provider.
    Cpu,
    /// The CUDA provider.
    Cuda,
}

/// Builds a session for `model` on `device` (`auto`, `cpu` or `cuda`). `auto` tries CUDA and
/// falls back to the CPU with a log line saying why; `cuda` fails instead of falling back.
pub fn session(cache: &Path, model: &Path, device: &str, threads: usize) -> Result<(Session, Device), ExtractError> {
    let env = environment(cache)?;
    // Builder errors carry the builder, which is neither Send nor Sync: flatten them to text.
    let build = |cuda: bool| -> Result<Session, String> {
        let mut b = Session::builder(env).map_err(|e| e.to_string())?;
        b = b.with_optimization_level(GraphOptimizationLevel::Level3).map_err(|e| e.to_string())?;
        b = b.with_intra_threads(threads.max(1)).map_err(|e| e.to_string())?;
        if cuda {
            b = b
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| e.to_string())?;
        }
        b.commit_from_file(model).map_err(|e| e.to_string())
    };
    let bad = |m: String| ExtractError::Model(format!("{}: {m}", model.display()));
    match device {
        "cpu" => build(false).map(|s| (s, Device::Cpu)).map_err(bad),
        "cuda" => build(true).map(|s| (s, Device::Cuda)).map_err(bad),
        "auto" => match build(true) {
            Ok(s) => {
                log::info!("{}: running on CUDA", model.display());
                Ok((s, Device::Cuda))
            }
            Err(why) => {
                log::info!("{}: running on CPU (CUDA provider unavailable: {})", model.display(), first_line(&why));
                build(false).map(|s| (s, Device::Cpu)).map_err(bad)
            }
        },
        other => Err(ExtractError::Model(format!("unknown device {other:?}: use auto, cpu or cuda"))),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
