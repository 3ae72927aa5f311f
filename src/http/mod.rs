//! The HTTP API (actix-web lives only here): SPARQL 1.1 Protocol at /sparql, Graph Store
//! Protocol at /store, named queries at /queries, /health and /metrics.
//!
//! Handlers parse the request, hand the work to the pool and await it; nothing heavy runs on
//! an actix worker.

pub mod access;
mod admin;
mod error;
mod gsp;
pub mod guard;
pub mod limit;
pub mod metrics;
mod ontology;
mod params;
mod queue;
mod rec;
mod search;
mod sparql;
mod text;
mod validate;

pub use error::ApiError;

use crate::engine::Engine;
use crate::pool::Pool;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, web};
use std::sync::Arc;
use std::time::Instant;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Where heavy work runs (queries, updates, loads, training, analysis).
    pub pool: Pool,
    /// Where recommendations run: a few slow SPARQL queries filling `pool` must not stall
    /// `/recommend` and `/similar`, which answer in milliseconds.
    pub rec_pool: Pool,
    /// Request metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Host, origin and CORS policy.
    pub guard: Arc<guard::Guard>,
    /// Per-client rate limits.
    pub limiter: Arc<limit::Limiter>,
    /// Per-client cap on requests in flight.
    pub in_flight: Arc<limit::InFlight>,
}

impl AppState {
    /// State over an engine, with a pool sized by its config.
    pub fn new(engine: Arc<Engine>) -> Self {
        let pool = Pool::new(engine.config.query_threads, engine.config.queue_depth);
        let guard = Arc::new(guard::Guard::new(&engine.config));
        let limiter =
            Arc::new(limit::Limiter::new(engine.config.rate_limit_per_second, engine.config.rate_limit_burst));
        let rec_pool = Pool::new(engine.config.query_threads.clamp(1, 4), engine.config.queue_depth);
        let in_flight = Arc::new(limit::InFlight::new(engine.config.max_in_flight_per_client));
        Self { engine, pool, rec_pool, metrics: Arc::default(), guard, limiter, in_flight }
    }
}

/// A JSON 405 naming the methods a resource has (actix's own is an empty body).
fn method_not_allowed(allowed: &'static str) -> impl Fn(HttpRequest) -> std::future::Ready<HttpResponse> + Clone {
    move |req: HttpRequest| {
        std::future::ready(
            HttpResponse::MethodNotAllowed().insert_header((actix_web::http::header::ALLOW, allowed)).json(
                serde_json::json!({
                    "error": "method_not_allowed",
                    "message": format!("{} is not allowed on {}; use {allowed}", req.method(), req.path()),
                }),
            ),
        )
    }
}

/// The application: used by `serve` and, in process, by the tests.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let metrics = Arc::clone(&state.metrics);
    let guard = Arc::clone(&state.guard);
    let engine = Arc::clone(&state.engine);
    let limiter = Arc::clone(&state.limiter);
    let in_flight = Arc::clone(&state.in_flight);
    let mode = state.engine.config.auth_mode();
    App::new()
        .app_data(web::Data::new(state))
        // Bodies are read by hand with our limit; this only bounds the query-string parser.
        .app_data(web::QueryConfig::default().error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()))
        .wrap_fn(move |req, srv| {
            let start = Instant::now();
            let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
            let method = req.method().to_string();
            let metrics = Arc::clone(&metrics);
            let guard = Arc::clone(&guard);
            let facts = guard::Guard::facts(req.request());
            let mut slot = None;
            let refused = guard.intercept(req.request()).or_else(|| {
                match access::authenticate(engine.keys(), mode, &req)
                    .and_then(|()| access::rate_limit(&limiter, &in_flight, &req))
                {
                    Ok(s) => {
                        slot = s;
                        None
                    }
                    Err(e) => Some(actix_web::ResponseError::error_response(&e)),
                }
            });
            let pending: Result<_, ServiceResponse<BoxBody>> = match refused {
                Some(answer) => Err(req.into_response(answer)),
                None => Ok(srv.call(req)),
            };
            async move {
                // Held until the response is ready: the client's in-flight slot.
                let _slot = slot;
                let mut res = match pending {
                    Ok(fut) => fut.await?.map_into_boxed_body(),
                    Err(early) => early,
                };
                guard.decorate(&facts, res.response_mut().head_mut());
                metrics.observe(&route, &method, res.status().as_u16(), start.elapsed());
                Ok(res)
            }
        })
        .route("/", web::get().to(console))
        .route("/console/editor.js", web::get().to(console_editor))
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics_text))
        .service(
            web::resource("/sparql")
                .route(web::get().to(sparql::sparql_get))
                .route(web::post().to(sparql::sparql_post))
                .default_service(web::to(method_not_allowed("GET, POST, OPTIONS"))),
        )
        .service(
            web::resource("/store")
                .route(web::get().to(gsp::get))
                .route(web::head().to(gsp::get))
                .route(web::put().to(gsp::put))
                .route(web::post().to(gsp::post))
                .route(web::delete().to(gsp::delete))
                .default_service(web::to(method_not_allowed("GET, HEAD, PUT, POST, DELETE, OPTIONS"))),
        )
        .route("/recommend", web::get().to(rec::recommend))
        .route("/similar", web::get().to(rec::similar))
        .route("/audience", web::get().to(rec::audience))
        .route("/explain", web::get().to(rec::explain))
        .route("/events", web::post().to(rec::post_events))
        .route("/train", web::post().to(rec::train))
        .route("/model", web::get().to(rec::model_info))
        .route("/model/versions", web::get().to(rec::model_versions))
        .route("/analyze", web::post().to(text::analyze))
        .route("/nearest", web::get().to(text::nearest))
        .route("/search", web::get().to(search::search))
        .route("/suggest", web::get().to(search::suggest))
        .route("/search/events", web::post().to(search::post_events))
        .route("/search/report", web::get().to(search::report))
        .route("/openapi.json", web::get().to(openapi))
        .route("/queries", web::get().to(sparql::list_queries))
        .route("/queries/{name}", web::get().to(sparql::run_named_query))
        .service(
            web::resource("/keys")
                .route(web::get().to(admin::list))
                .route(web::post().to(admin::create))
                .default_service(web::to(method_not_allowed("GET, POST"))),
        )
        .route("/keys/{id}", web::delete().to(admin::revoke))
        .route("/audit", web::get().to(admin::audit))
        .route("/users/{id}", web::delete().to(admin::forget_user))
        .route("/users/{id}/history", web::get().to(rec::history))
        .route("/reason", web::post().to(admin::reason))
        .route("/fuse", web::post().to(admin::fuse))
        .route("/queue", web::get().to(queue::list))
        .route("/queue/{id}/{decision}", web::post().to(queue::decide))
        .route("/inference/explain", web::get().to(admin::explain_inference))
        .route("/validate", web::post().to(validate::validate))
        .service(
            web::resource("/ontology")
                .route(web::get().to(ontology::get))
                .route(web::post().to(ontology::apply))
                .default_service(web::to(method_not_allowed("GET, POST"))),
        )
        .route("/ontology/diff", web::get().to(ontology::diff))
        .default_service(web::to(|req: HttpRequest| async move {
            HttpResponse::NotFound().json(serde_json::json!({
                "error": "not_found",
                "message": format!("no route for {} {}", req.method(), req.path()),
            }))
        }))
}

/// Runs the server until Ctrl-C.
pub async fn serve(engine: Arc<Engine>) -> std::io::Result<()> {
    let bind = engine.config.bind.clone();
    let workers = engine.config.http_workers.max(1);
    engine.config.check_exposure().map_err(std::io::Error::other)?;
    let mode = engine.config.auth_mode();
    if mode != crate::config::AuthMode::Off && !engine.keys().any_active() {
        log::warn!(
            "auth is {mode:?} but no API key exists yet: create one with `shopgraph keys create --role admin --name ...`"
        );
    }
    let state = AppState::new(engine);
    log::info!("shopgraph listening on http://{bind} (SPARQL at /sparql, auth {mode:?})");
    actix_web::HttpServer::new(move || app(state.clone())).workers(workers).bind(&bind)?.run().await
}

/// Liveness and saturation: `status` is `saturated` while the work queue is full (new heavy
/// requests get 429), so a balancer can steer away; the answer itself is always 200.
async fn health(state: web::Data<AppState>) -> HttpResponse {
    let (queued, running) = (state.pool.queued(), state.pool.running());
    let saturated = queued >= state.engine.config.queue_depth;
    HttpResponse::Ok().json(serde_json::json!({
        "status": if saturated { "saturated" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "store": if state.engine.config.memory { "memory" } else { "rocksdb" },
        "pool": {
            "threads": state.engine.config.query_threads,
            "running": running,
            "queued": queued,
            "queue_depth": state.engine.config.queue_depth,
        },
    }))
}

async fn metrics_text(state: web::Data<AppState>) -> HttpResponse {
    let mut body = state.metrics.render();
    let m = state.engine.maintenance_counts();
    body.push_str(&format!(
        "# HELP shopgraph_inference_maintenance_total Writes that kept the inferred graph current, by how.
# TYPE shopgraph_inference_maintenance_total counter
shopgraph_inference_maintenance_total{{how=\"incremental\"}} {}
shopgraph_inference_maintenance_total{{how=\"rebuild\"}} {}
",
        m.incremental, m.rebuilds
    ));
    // RocksDB's own accounting, so that an operator can tell its bounded parts (the block cache,
    // store_cache_mb) from the process's other memory.
    match state.engine.store().memory_usage() {
        Ok(Some(u)) => body.push_str(&format!(
            "# HELP shopgraph_store_memory_bytes What RocksDB holds in memory, by part (block_cache includes block_cache_pinned).
# TYPE shopgraph_store_memory_bytes gauge
shopgraph_store_memory_bytes{{part=\"block_cache\"}} {}
shopgraph_store_memory_bytes{{part=\"block_cache_pinned\"}} {}
shopgraph_store_memory_bytes{{part=\"memtables\"}} {}
shopgraph_store_memory_bytes{{part=\"table_readers\"}} {}
# HELP shopgraph_store_memtable_entries Writes held in RocksDB's memtables, not yet flushed to table files (housekeeping flushes past flush_memtable_entries).
# TYPE shopgraph_store_memtable_entries gauge
shopgraph_store_memtable_entries {}
",
            u.block_cache, u.block_cache_pinned, u.memtables, u.table_readers, u.memtable_entries
        )),
        Ok(None) => {}
        Err(e) => log::warn!("metrics: the store's memory figures could not be read: {e}"),
    }
    if let Some(a) = crate::memory::figures() {
        body.push_str(&format!(
            "# HELP shopgraph_allocator_bytes The allocator's accounting: allocated (in use by the program), active (pages holding allocations), metadata, resident (pages it has not given back), thread_caches (freed blocks kept per thread, inside allocated).
# TYPE shopgraph_allocator_bytes gauge
shopgraph_allocator_bytes{{part=\"allocated\"}} {}
shopgraph_allocator_bytes{{part=\"active\"}} {}
shopgraph_allocator_bytes{{part=\"metadata\"}} {}
shopgraph_allocator_bytes{{part=\"resident\"}} {}
shopgraph_allocator_bytes{{part=\"thread_caches\"}} {}
",
            a.allocated, a.active, a.metadata, a.resident, a.thread_caches
        ));
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body)
}

/// The web console (one embedded page over the public API), unless the config turns it off.
async fn console(state: web::Data<AppState>) -> HttpResponse {
    if !state.engine.config.console {
        return HttpResponse::NotFound()
            .json(serde_json::json!({"error": "not_found", "message": "the console is turned off (console = false)"}));
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "content-security-policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ))
        .body(include_str!("console.html"))
}

/// The console's SPARQL editor: CodeMirror 6 with its SPARQL mode, bundled at build time from
/// npm (`assets/editor.LICENSE` says how, and holds the licences).
async fn console_editor(state: web::Data<AppState>) -> HttpResponse {
    if !state.engine.config.console {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=3600"))
        .body(include_str!("assets/editor.js"))
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(include_str!("openapi.json"))
}
