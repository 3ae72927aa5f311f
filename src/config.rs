//! Server and store settings, resolved as defaults < file < environment < flags.
//!
//! Imports nothing of ours. The CLI passes its flags in as an [`Overrides`].

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The config file is not valid TOML for these settings.
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    /// An environment variable holds a value of the wrong type.
    #[error("environment variable {var}={value:?} is invalid: {message}")]
    Env { var: String, value: String, message: String },
    /// The settings would expose the server without protection.
    #[error("{0}")]
    Unsafe(String),
}

/// Every setting, with its default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Data directory (RocksDB store, pseudonym key, reports, models).
    pub data: PathBuf,
    /// Use an in-memory store instead of `data` (nothing persists).
    pub memory: bool,
    /// HTTP listen address.
    pub bind: String,
    /// Wall-clock limit of one SPARQL query, in milliseconds.
    pub query_timeout_ms: u64,
    /// Maximum solutions (or triples) one query may return.
    pub max_result_rows: usize,
    /// Maximum HTTP request body, in bytes.
    pub max_body_bytes: usize,
    /// Threads that run queries, updates and loads (never the HTTP workers).
    pub query_threads: usize,
    /// Queued heavy requests beyond which the server answers 429.
    pub queue_depth: usize,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Base of minted instance IRIs.
    pub base_iri: String,
    /// Extra directory of named `.rq` queries, on top of the built-in ones.
    pub queries_dir: Option<PathBuf>,
    /// Events since the last training after which a background retrain starts.
    pub retrain_after_events: usize,
    /// Directory of model manifests (`*.toml`, heads under `heads/`).
    pub models: PathBuf,
    /// Where fetched model files and the ONNX Runtime library live (`.ci/fetch-models.py`).
    pub model_cache: PathBuf,
    /// Execution device for ONNX models: `auto` (CUDA when it loads, else CPU), `cpu` or `cuda`.
    pub device: String,
    /// Inference workers of `extract`, one ONNX session each.
    pub extract_workers: usize,
    /// Sentences per inference batch.
    pub extract_batch: usize,
    /// Web origins (`https://shop.example`) whose pages may call the API from a browser
    /// (CORS). Empty: none. `*` lets any page read (GET, HEAD) but never write.
    pub cors_origins: Vec<String>,
    /// Host names accepted in the `Host` header, beside `localhost`, `127.0.0.1` and `[::1]`,
    /// when bound to a loopback address (against DNS rebinding). Not checked on other binds.
    pub allowed_hosts: Vec<String>,
    /// Model versions kept under `<data>/models`; older ones are deleted after a new one is saved.
    pub keep_models: usize,
    /// Who must present an API key (`Authorization: Bearer`). `None` (the default): `off` on a
    /// loopback bind, `all` on any other.
    pub auth: Option<AuthMode>,
    /// Serve on a non-loopback address with `auth = "off"` anyway (refused otherwise).
    pub allow_unauthenticated_public: bool,
    /// Requests per second one client (API key, else address) may make on average; 0: no limit.
    pub rate_limit_per_second: f64,
    /// Requests one client may make at once before the rate applies.
    pub rate_limit_burst: f64,
    /// Resident memory of the server (MiB) past which running queries are cancelled with an
    /// error; 0: half of the machine's memory.
    pub memory_limit_mb: u64,
    /// RocksDB's block cache for the store, in MiB, one LRU cache shared by all its column
    /// families (the patched oxigraph in vendor/). oxigraph's own caches (128 MiB for the string
    /// dictionary, 32 MiB for the rest) kept the blocks of files a compaction had replaced until
    /// full, so a writing server grew by up to 160 MiB (benches/REPORT.md section 9).
    pub store_cache_mb: usize,
    /// Entries RocksDB's memtables may hold before the server flushes them, whatever the time
    /// (a quad is an entry in each of three or six indexes, and one per new string): at a high
    /// write rate the writes held between the timed flushes were the largest part of a soak's
    /// growth (benches/REPORT.md section 9); 0: flush on time only.
    pub flush_memtable_entries: u64,
    /// Requests one client (API key, else address) may have in flight at once; 0: no cap.
    pub max_in_flight_per_client: usize,
    /// Queries see the inferred graph (`shopgraph reason`) in their default graph unless they
    /// say `infer=false`.
    pub infer: bool,
    /// Extracted aspect mentions whose confidence (the lower of detection and polarity
    /// probability) is under this go to the review queue, not the served graph; 0: none held.
    pub review_threshold_aspect: f32,
    /// Graph Store writes, updates and `load` are validated against the SHACL shapes before
    /// they commit (refused whole on a violation) unless the request says `validate=false`.
    pub validate_writes: bool,
    /// Serve the web console at `/` (it uses the same HTTP API as every client).
    pub console: bool,
}

/// Which requests need an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// No keys are asked for.
    Off,
    /// Writes (updates, Graph Store writes, events, training, keys) need a key; reads do not.
    Writes,
    /// Every request but /health and /openapi.json needs a key.
    All,
}

impl std::str::FromStr for AuthMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Self::Off),
            "writes" => Ok(Self::Writes),
            "all" => Ok(Self::All),
            o => Err(format!("auth must be off, writes or all, got {o:?}")),
        }
    }
}

/// Whether a `host:port` bind address is a loopback one.
pub fn is_loopback_bind(bind: &str) -> bool {
    let host = bind.rsplit_once(':').map_or(bind, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data: PathBuf::from("shopgraph-data"),
            memory: false,
            bind: "127.0.0.1:7878".into(),
            query_timeout_ms: 30_000,
            max_result_rows: 1_000_000,
            max_body_bytes: 64 * 1024 * 1024,
            query_threads: std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            queue_depth: 64,
            http_workers: 2,
            base_iri: crate_default_base().into(),
            queries_dir: None,
            retrain_after_events: 1000,
            models: PathBuf::from("models"),
            model_cache: default_model_cache(),
            device: "auto".into(),
            extract_workers: 1,
            extract_batch: 32,
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            keep_models: 5,
            auth: None,
            allow_unauthenticated_public: false,
            rate_limit_per_second: 0.0,
            rate_limit_burst: 50.0,
            memory_limit_mb: 0,
            store_cache_mb: 32,
            flush_memtable_entries: 20_000,
            max_in_flight_per_client: 0,
            infer: false,
            review_threshold_aspect: 0.6,
            validate_writes: false,
            console: true,
        }
    }
}

// Kept here rather than imported so that config depends on nothing of ours; a test checks it
// matches ontology::vocab::DEFAULT_BASE.
fn crate_default_base() -> &'static str {
    "https://w3id.org/shopgraph/id/"
}

// Same rule as .ci/fetch-models.py, so the two agree without a flag.
fn default_model_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("SHOPGRAPH_MODEL_CACHE") {
        return dir.into();
    }
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from(".shopgraph-models"), |h| Path::new(&h).join(".cache/shopgraph/models"))
}

/// Settings given on the command line; `None` leaves the lower layers in charge.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub memory: bool,
    pub bind: Option<String>,
    pub query_timeout_ms: Option<u64>,
    pub max_result_rows: Option<usize>,
    pub max_body_bytes: Option<usize>,
    pub query_threads: Option<usize>,
    pub base_iri: Option<String>,
    pub queries_dir: Option<PathBuf>,
    pub models: Option<PathBuf>,
    pub device: Option<String>,
    pub extract_batch: Option<usize>,
}

impl Config {
    /// The memory limit in bytes: the configured one, else half of physical memory (`None` when
    /// neither is known).
    pub fn memory_limit_bytes(&self) -> Option<u64> {
        if self.memory_limit_mb > 0 {
            return Some(self.memory_limit_mb << 20);
        }
        let info = std::fs::read_to_string("/proc/meminfo").ok()?;
        let kb: u64 = info.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024 / 2)
    }

    /// The auth mode in force: the configured one, else by the bind address.
    pub fn auth_mode(&self) -> AuthMode {
        self.auth.unwrap_or(if is_loopback_bind(&self.bind) { AuthMode::Off } else { AuthMode::All })
    }

    /// Refuses a setup that would expose an unauthenticated server to the network.
    pub fn check_exposure(&self) -> Result<(), ConfigError> {
        if self.auth_mode() == AuthMode::Off && !is_loopback_bind(&self.bind) && !self.allow_unauthenticated_public {
            return Err(ConfigError::Unsafe(format!(
                "refusing to serve on {} with auth = \"off\": anyone who can reach it could change or delete \
                 everything. Create keys (`shopgraph keys create`) and set auth = \"all\" or \"writes\", bind \
                 127.0.0.1, or set allow_unauthenticated_public = true if a proxy in front authenticates",
                self.bind
            )));
        }
        Ok(())
    }

    /// Query timeout as a duration.
    pub fn query_timeout(&self) -> Duration {
        Duration::from_millis(self.query_timeout_ms)
    }

    /// Resolves defaults < file < environment (`SHOPGRAPH_*`) < flags.
    ///
    /// The file is the `--config` flag, else `SHOPGRAPH_CONFIG`, else `shopgraph.toml` in the
    /// data directory if it exists.
    pub fn resolve(flags: &Overrides, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut cfg = Self::default();
        let data_hint =
            flags.data.clone().or_else(|| env("SHOPGRAPH_DATA").map(PathBuf::from)).unwrap_or_else(|| cfg.data.clone());
        let file = flags
            .config_file
            .clone()
            .or_else(|| env("SHOPGRAPH_CONFIG").map(PathBuf::from))
            .or_else(|| Some(data_hint.join("shopgraph.toml")).filter(|p| p.exists()));
        if let Some(path) = file {
            cfg = Self::from_file(&path)?;
        }
        cfg.apply_env(env)?;
        cfg.apply_flags(flags);
        Ok(cfg)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn num<T: std::str::FromStr>(var: &str, v: String) -> Result<T, ConfigError> {
            v.parse().map_err(|_| ConfigError::Env { var: var.into(), value: v, message: "expected a number".into() })
        }
        if let Some(v) = env("SHOPGRAPH_DATA") {
            self.data = v.into();
        }
        if let Some(v) = env("SHOPGRAPH_MEMORY") {
            self.memory = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("SHOPGRAPH_BIND") {
            self.bind = v;
        }
        if let Some(v) = env("SHOPGRAPH_QUERY_TIMEOUT_MS") {
            self.query_timeout_ms = num("SHOPGRAPH_QUERY_TIMEOUT_MS", v)?;
        }
        if let Some(v) = env("SHOPGRAPH_MAX_RESULT_ROWS") {
            self.max_result_rows = num("SHOPGRAPH_MAX_RESULT_ROWS", v)?;
        }
        if let Some(v) = env("SHOPGRAPH_MAX_BODY_BYTES") {
            self.max_body_bytes = num("SHOPGRAPH_MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = env("SHOPGRAPH_QUERY_THREADS") {
            self.query_threads = num("SHOPGRAPH_QUERY_THREADS", v)?;
        }
        if let Some(v) = env("SHOPGRAPH_BASE_IRI") {
            self.base_iri = v;
        }
        if let Some(v) = env("SHOPGRAPH_QUERIES_DIR") {
            self.queries_dir = Some(v.into());
        }
        if let Some(v) = env("SHOPGRAPH_MODELS") {
            self.models = v.into();
        }
        if let Some(v) = env("SHOPGRAPH_MODEL_CACHE") {
            self.model_cache = v.into();
        }
        if let Some(v) = env("SHOPGRAPH_DEVICE") {
            self.device = v;
        }
        if let Some(v) = env("SHOPGRAPH_EXTRACT_WORKERS") {
            self.extract_workers = num("SHOPGRAPH_EXTRACT_WORKERS", v)?;
        }
        if let Some(v) = env("SHOPGRAPH_EXTRACT_BATCH") {
            self.extract_batch = num("SHOPGRAPH_EXTRACT_BATCH", v)?;
        }
        let list = |v: String| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if let Some(v) = env("SHOPGRAPH_CORS_ORIGINS") {
            self.cors_origins = list(v);
        }
        if let Some(v) = env("SHOPGRAPH_ALLOWED_HOSTS") {
            self.allowed_hosts = list(v);
        }
        if let Some(v) = env("SHOPGRAPH_RATE_LIMIT_PER_SECOND") {
            self.rate_limit_per_second = num("SHOPGRAPH_RATE_LIMIT_PER_SECOND", v)?;
        }
        if let Some(v) = env("SHOPGRAPH_MEMORY_LIMIT_MB") {
            self.memory_limit_mb = num("SHOPGRAPH_MEMORY_LIMIT_MB", v)?;
        }
        if let Some(v) = env("SHOPGRAPH_STORE_CACHE_MB") {
            self.store_cache_mb = num("SHOPGRAPH_STORE_CACHE_MB", v)?;
        }
        if let Some(v) = env("SHOPGRAPH_FLUSH_MEMTABLE_ENTRIES") {
            self.flush_memtable_entries = num("SHOPGRAPH_FLUSH_MEMTABLE_ENTRIES", v)?;
        }
        if let Some(v) = env("SHOPGRAPH_CONSOLE") {
            self.console = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("SHOPGRAPH_AUTH") {
            self.auth =
                Some(v.parse().map_err(|m| ConfigError::Env { var: "SHOPGRAPH_AUTH".into(), value: v, message: m })?);
        }
        Ok(())
    }

    fn apply_flags(&mut self, f: &Overrides) {
        if let Some(v) = &f.data {
            self.data = v.clone();
        }
        if f.memory {
            self.memory = true;
        }
        if let Some(v) = &f.bind {
            self.bind = v.clone();
        }
        if let Some(v) = f.query_timeout_ms {
            self.query_timeout_ms = v;
        }
        if let Some(v) = f.max_result_rows {
            self.max_result_rows = v;
        }
        if let Some(v) = f.max_body_bytes {
            self.max_body_bytes = v;
        }
        if let Some(v) = f.query_threads {
            self.query_threads = v.max(1);
        }
        if let Some(v) = &f.base_iri {
            self.base_iri = v.clone();
        }
        if let Some(v) = &f.queries_dir {
            self.queries_dir = Some(v.clone());
        }
        if let Some(v) = &f.models {
            self.models = v.clone();
        }
        if let Some(v) = &f.device {
            self.device = v.clone();
        }
        if let Some(v) = f.extract_batch {
            self.extract_batch = v.max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn layers_override_in_order_defaults_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "bind = \"0.0.0.0:1\"\nquery_timeout_ms = 5\nmax_result_rows = 7\n").unwrap();
        let env: HashMap<&str, &str> = [("SHOPGRAPH_QUERY_TIMEOUT_MS", "6"), ("SHOPGRAPH_MAX_RESULT_ROWS", "8")].into();
        let get = |k: &str| env.get(k).map(|v| v.to_string());
        let flags = Overrides { config_file: Some(file), max_result_rows: Some(9), ..Default::default() };
        let c = Config::resolve(&flags, &get).unwrap();
        assert_eq!(c.bind, "0.0.0.0:1"); // file over default
        assert_eq!(c.query_timeout_ms, 6); // env over file
        assert_eq!(c.max_result_rows, 9); // flag over env
        assert_eq!(c.max_body_bytes, Config::default().max_body_bytes);
    }

    #[test]
    fn unknown_key_in_file_is_an_error_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "bnid = \"x\"\n").unwrap();
        let flags = Overrides { config_file: Some(file), ..Default::default() };
        assert!(matches!(Config::resolve(&flags, &|_| None), Err(ConfigError::Parse { .. })));
    }

    #[test]
    fn bad_env_number_is_reported() {
        let e = Config::resolve(&Overrides::default(), &|k| {
            (k == "SHOPGRAPH_QUERY_TIMEOUT_MS").then(|| "soon".to_string())
        });
        assert!(matches!(e, Err(ConfigError::Env { .. })));
    }
}
