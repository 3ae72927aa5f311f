//! The HTTP API (actix-web lives only here): SPARQL 1.1 Protocol at /sparql, Graph Store
//! Protocol at /store, named queries at /queries, /health and /metrics.
//!
//! Handlers parse the request, hand the work to the pool and await it; nothing heavy runs on
//! an actix worker.

mod error;
pub mod metrics;

pub use error::ApiError;

use crate::engine::Engine;
use crate::pool::Pool;
use crate::store::model::{GraphName, NamedNode};
use crate::store::{OutputFormats, QueryOptions, Store, formats};
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::{App, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Where heavy work runs.
    pub pool: Pool,
    /// Request metrics.
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// State over an engine, with a pool sized by its config.
    pub fn new(engine: Arc<Engine>) -> Self {
        let pool = Pool::new(engine.config.query_threads, engine.config.queue_depth);
        Self { engine, pool, metrics: Arc::default() }
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
    App::new()
        .app_data(web::Data::new(state))
        // Bodies are read by hand with our limit; this only bounds the query-string parser.
        .app_data(web::QueryConfig::default().error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()))
        .wrap_fn(move |req, srv| {
            let start = Instant::now();
            let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
            let method = req.method().to_string();
            let metrics = Arc::clone(&metrics);
            let fut = srv.call(req);
            async move {
                let res = fut.await?;
                metrics.observe(&route, &method, res.status().as_u16(), start.elapsed());
                Ok(res)
            }
        })
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics_text))
        .service(web::resource("/sparql").route(web::get().to(sparql_get)).route(web::post().to(sparql_post)))
        .service(
            web::resource("/store")
                .route(web::get().to(gsp_get))
                .route(web::head().to(gsp_get))
                .route(web::put().to(gsp_put))
                .route(web::post().to(gsp_post))
                .route(web::delete().to(gsp_delete)),
        )
        .route("/recommend", web::get().to(recommend))
        .route("/similar", web::get().to(similar))
        .route("/explain", web::get().to(explain))
        .route("/events", web::post().to(post_events))
        .route("/train", web::post().to(train))
        .route("/model", web::get().to(model_info))
        .route("/analyze", web::post().to(analyze))
        .route("/nearest", web::get().to(nearest))
        .route("/openapi.json", web::get().to(openapi))
        .route("/queries", web::get().to(list_queries))
        .route("/queries/{name}", web::get().to(run_named_query))
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
    let state = AppState::new(engine);
    log::info!("shopgraph listening on http://{bind} (SPARQL at /sparql)");
    actix_web::HttpServer::new(move || app(state.clone())).workers(workers).bind(&bind)?.run().await
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "store": if state.engine.config.memory { "memory" } else { "rocksdb" },
    }))
}

async fn metrics_text(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

/// Query-string pairs, repeated keys kept.
fn pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    strict_utf8(req.query_string().as_bytes())?;
    serde_urlencoded::from_str(req.query_string()).map_err(|e| ApiError::BadRequest(format!("bad query string: {e}")))
}

/// The URL decoder replaces invalid UTF-8 silently; a query mangled that way must be refused.
fn strict_utf8(encoded: &[u8]) -> Result<(), ApiError> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        let b = encoded[i];
        if b == b'%'
            && let Some(v) = encoded
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    std::str::from_utf8(&out)
        .map(|_| ())
        .map_err(|e| ApiError::BadRequest(format!("parameters are not valid UTF-8 once decoded: {e}")))
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn media_type(req: &HttpRequest) -> String {
    header_str(req.headers(), header::CONTENT_TYPE)
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Reads the body up to the configured limit, refusing early on a too-large Content-Length.
async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    if let Some(len) = header_str(req.headers(), header::CONTENT_LENGTH).and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn utf8(body: Vec<u8>) -> Result<String, ApiError> {
    String::from_utf8(body).map_err(|e| ApiError::BadRequest(format!("body is not UTF-8: {e}")))
}

/// Protocol parameters other than the operation itself.
#[derive(Default)]
struct ProtocolParams {
    default_graphs: Vec<String>,
    named_graphs: Vec<String>,
    union_default_graph: bool,
    format: Option<String>,
}

fn protocol_params(pairs: &[(String, String)]) -> Result<ProtocolParams, ApiError> {
    let mut p = ProtocolParams::default();
    for (k, v) in pairs {
        match k.as_str() {
            "default-graph-uri" => p.default_graphs.push(v.clone()),
            "named-graph-uri" => p.named_graphs.push(v.clone()),
            "union-default-graph" => p.union_default_graph = true,
            "format" => p.format = Some(v.clone()),
            "using-graph-uri" | "using-named-graph-uri" => {
                return Err(ApiError::BadRequest(format!(
                    "{k} is not supported; write USING / USING NAMED in the update"
                )));
            }
            "query" | "update" | "timeout" => {}
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    Ok(p)
}

fn formats_for(req: &HttpRequest, format: Option<&str>) -> OutputFormats {
    let accept = header_str(req.headers(), header::ACCEPT);
    OutputFormats { results: formats::results_format(format, accept), graph: formats::graph_format(format, accept) }
}

async fn run_query(
    state: &AppState,
    req: &HttpRequest,
    query: String,
    params: ProtocolParams,
) -> Result<HttpResponse, ApiError> {
    let fmts = formats_for(req, params.format.as_deref());
    if fmts.results.is_none() && fmts.graph.is_none() {
        return Err(ApiError::NotAcceptable(
            "SPARQL JSON/XML/CSV/TSV results, Turtle, N-Triples, JSON-LD, RDF/XML".into(),
        ));
    }
    let engine = Arc::clone(&state.engine);
    let opts = QueryOptions {
        default_graphs: params.default_graphs,
        named_graphs: params.named_graphs,
        union_default_graph: params.union_default_graph,
        ..engine.query_options()
    };
    let out = state.pool.run(move || engine.query(&query, &opts, fmts)).await??;
    Ok(HttpResponse::Ok().content_type(out.content_type).body(out.body))
}

async fn run_update(state: &AppState, update: String) -> Result<HttpResponse, ApiError> {
    let engine = Arc::clone(&state.engine);
    state.pool.run(move || engine.update(&update)).await??;
    Ok(HttpResponse::NoContent().finish())
}

async fn sparql_get(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let pairs = pairs(&req)?;
    let params = protocol_params(&pairs)?;
    if pairs.iter().any(|(k, _)| k == "update") {
        return Err(ApiError::BadRequest("updates must be sent with POST".into()));
    }
    let queries: Vec<_> = pairs.iter().filter(|(k, _)| k == "query").collect();
    match queries.as_slice() {
        [(_, q)] => run_query(&state, &req, q.clone(), params).await,
        [] => Err(ApiError::BadRequest("missing `query` parameter".into())),
        _ => Err(ApiError::BadRequest("more than one `query` parameter".into())),
    }
}

async fn sparql_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let url_pairs = pairs(&req)?;
    let media = media_type(&req);
    let limit = state.engine.config.max_body_bytes;
    match media.as_str() {
        "application/sparql-query" => {
            let params = protocol_params(&url_pairs)?;
            let body = utf8(read_body(&req, payload, limit).await?)?;
            run_query(&state, &req, body, params).await
        }
        "application/sparql-update" => {
            protocol_params(&url_pairs)?;
            let body = utf8(read_body(&req, payload, limit).await?)?;
            run_update(&state, body).await
        }
        "application/x-www-form-urlencoded" => {
            let body = read_body(&req, payload, limit).await?;
            strict_utf8(&body)?;
            let form: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|e| ApiError::BadRequest(format!("bad form body: {e}")))?;
            let mut all = url_pairs;
            all.extend(form.iter().cloned());
            let params = protocol_params(&all)?;
            let query: Vec<_> = form.iter().filter(|(k, _)| k == "query").collect();
            let update: Vec<_> = form.iter().filter(|(k, _)| k == "update").collect();
            match (query.as_slice(), update.as_slice()) {
                ([(_, q)], []) => run_query(&state, &req, q.clone(), params).await,
                ([], [(_, u)]) => run_update(&state, u.clone()).await,
                ([], []) => Err(ApiError::BadRequest("form needs a `query` or an `update` field".into())),
                _ => Err(ApiError::BadRequest("form must hold exactly one `query` or `update`".into())),
            }
        }
        other => Err(ApiError::UnsupportedMediaType(format!(
            "{other}; send application/sparql-query, application/sparql-update or application/x-www-form-urlencoded"
        ))),
    }
}

/// `?default` or `?graph=IRI`, exactly one.
fn target_graph(req: &HttpRequest) -> Result<GraphName, ApiError> {
    let pairs = pairs(req)?;
    let mut target = None;
    for (k, v) in &pairs {
        let g = match k.as_str() {
            "default" => GraphName::DefaultGraph,
            "graph" => GraphName::NamedNode(
                NamedNode::new(v).map_err(|_| ApiError::BadRequest(format!("graph {v:?} is not an absolute IRI")))?,
            ),
            "format" => continue,
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        };
        if target.replace(g).is_some() {
            return Err(ApiError::BadRequest("give exactly one of `default` or `graph`".into()));
        }
    }
    target.ok_or_else(|| ApiError::BadRequest("give `?default` or `?graph=IRI`".into()))
}

async fn gsp_get(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let graph = target_graph(&req)?;
    let format_param = pairs(&req)?.into_iter().find(|(k, _)| k == "format").map(|(_, v)| v);
    let format = formats::graph_format(format_param.as_deref(), header_str(req.headers(), header::ACCEPT))
        .ok_or_else(|| ApiError::NotAcceptable("Turtle, N-Triples, JSON-LD, RDF/XML, N-Quads, TriG".into()))?;
    let engine = Arc::clone(&state.engine);
    let body = state.pool.run(move || engine.store().dump_graph(&graph, format)).await??;
    let mut resp = HttpResponse::Ok();
    resp.content_type(format.media_type());
    Ok(if req.method() == actix_web::http::Method::HEAD { resp.finish() } else { resp.body(body) })
}

async fn gsp_write(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    replace: bool,
) -> Result<HttpResponse, ApiError> {
    let graph = target_graph(&req)?;
    let ct = media_type(&req);
    let format = formats::upload_format(&ct).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!("{ct}; send Turtle, N-Triples, RDF/XML, JSON-LD, N-Quads or TriG"))
    })?;
    let body = read_body(&req, payload, state.engine.config.max_body_bytes).await?;
    let engine = Arc::clone(&state.engine);
    let existed = state
        .pool
        .run(move || {
            let base = match &graph {
                GraphName::NamedNode(n) => Some(n.as_str().to_owned()),
                _ => None,
            };
            // Parse everything first: a syntax error leaves the graph as it was.
            let quads = Store::parse_document(&body, format, graph.clone(), base.as_deref())?;
            if replace {
                engine.store().replace_graph(&graph, &quads)
            } else {
                engine.store().add_to_graph(&graph, &quads)
            }
        })
        .await??;
    Ok(if existed { HttpResponse::NoContent().finish() } else { HttpResponse::Created().finish() })
}

async fn gsp_put(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gsp_write(state, req, payload, true).await
}

async fn gsp_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gsp_write(state, req, payload, false).await
}

async fn gsp_delete(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let graph = target_graph(&req)?;
    let engine = Arc::clone(&state.engine);
    state.pool.run(move || engine.store().delete_graph(&graph)).await??;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_queries(state: web::Data<AppState>) -> HttpResponse {
    let all: Vec<_> = state.engine.named_queries().all().cloned().collect();
    HttpResponse::Ok().json(all)
}

async fn run_named_query(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut params: HashMap<String, String> = HashMap::new();
    let mut format = None;
    for (k, v) in pairs(&req)? {
        if k == "format" {
            format = Some(v);
        } else if params.insert(k.clone(), v).is_some() {
            return Err(ApiError::BadRequest(format!("parameter {k:?} given twice")));
        }
    }
    let fmts = formats_for(&req, format.as_deref());
    if fmts.results.is_none() && fmts.graph.is_none() {
        return Err(ApiError::NotAcceptable("SPARQL results or RDF formats".into()));
    }
    let engine = Arc::clone(&state.engine);
    let name = name.into_inner();
    let out = state.pool.run(move || engine.named_query(&name, &params, fmts)).await??;
    Ok(HttpResponse::Ok().content_type(out.content_type).body(out.body))
}

/// Query parameters of the recommendation endpoints, as strings so every parse error is ours.
fn rec_params(req: &HttpRequest, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let mut out = HashMap::new();
    for (k, v) in pairs(req)? {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "unknown parameter {k:?}; expected one of {}",
                allowed.join(", ")
            )));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(ApiError::BadRequest(format!("parameter {k:?} given twice")));
        }
    }
    Ok(out)
}

fn required<'a>(p: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    p.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("missing `{name}` parameter")))
}

fn parse_k(p: &HashMap<String, String>) -> Result<usize, ApiError> {
    match p.get("k") {
        None => Ok(10),
        Some(v) => v.parse().map_err(|_| ApiError::BadRequest(format!("k must be a positive integer, got {v:?}"))),
    }
}

fn parse_bool(p: &HashMap<String, String>, name: &str, default: bool) -> Result<bool, ApiError> {
    match p.get(name).map(String::as_str) {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(v) => Err(ApiError::BadRequest(format!("{name} must be true or false, got {v:?}"))),
    }
}

fn parse_filter(p: &HashMap<String, String>) -> Result<crate::recommend::facets::Filter, ApiError> {
    let num = |name: &str| -> Result<Option<f64>, ApiError> {
        p.get(name)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| ApiError::BadRequest(format!("{name} must be a number, got {v:?}")))
            })
            .transpose()
    };
    let category = match p.get("category") {
        None => None,
        Some(c) if c.chars().all(|ch| ch.is_ascii_digit()) && !c.is_empty() => {
            Some(format!("{}{c}", crate::ontology::vocab::TAXONOMY))
        }
        Some(c) => Some(
            NamedNode::new(c.as_str())
                .map_err(|_| ApiError::BadRequest(format!("category must be a taxonomy id or an IRI, got {c:?}")))?
                .into_string(),
        ),
    };
    Ok(crate::recommend::facets::Filter {
        category,
        brand: p.get("brand").cloned(),
        min_price: num("min_price")?,
        max_price: num("max_price")?,
        in_stock: parse_bool(p, "in_stock", false)?,
    })
}

const FILTERS: [&str; 5] = ["category", "brand", "min_price", "max_price", "in_stock"];

async fn recommend(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut allowed = vec!["user", "k", "exclude_seen", "cold_start"];
    allowed.extend(FILTERS);
    let p = rec_params(&req, &allowed)?;
    let user = required(&p, "user")?.to_owned();
    let k = parse_k(&p)?;
    let filter = parse_filter(&p)?;
    let exclude = parse_bool(&p, "exclude_seen", true)?;
    let cold = parse_bool(&p, "cold_start", true)?;
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.recommend(&user, k, &filter, exclude, cold)).await??;
    Ok(HttpResponse::Ok().json(out))
}

async fn similar(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut allowed = vec!["item", "k"];
    allowed.extend(FILTERS);
    let p = rec_params(&req, &allowed)?;
    let item = required(&p, "item")?.to_owned();
    let k = parse_k(&p)?;
    let filter = parse_filter(&p)?;
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.similar(&item, k, &filter)).await??;
    Ok(HttpResponse::Ok().json(out))
}

async fn explain(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["user", "item", "format"])?;
    let user = required(&p, "user")?.to_owned();
    let item = required(&p, "item")?.to_owned();
    let turtle = match p.get("format").map(String::as_str) {
        None | Some("json") => header_str(req.headers(), header::ACCEPT).is_some_and(|a| a.starts_with("text/turtle")),
        Some("ttl" | "turtle") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("format must be json or turtle, got {other:?}"))),
    };
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.explain(&user, &item)).await??;
    Ok(if turtle { HttpResponse::Ok().content_type("text/turtle").body(out.rdf) } else { HttpResponse::Ok().json(out) })
}

/// Most texts one `POST /analyze` may carry.
const MAX_ANALYZE_TEXTS: usize = 256;

async fn analyze(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let media = media_type(&req);
    let body = read_body(&req, payload, state.engine.config.max_body_bytes).await?;
    let texts: Vec<String> = match media.as_str() {
        "application/json" => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                text: Option<String>,
                texts: Option<Vec<String>>,
            }
            let b: Body = serde_json::from_slice(&body).map_err(|e| {
                ApiError::BadRequest(format!("body must be {{\"text\": ...}} or {{\"texts\": [...]}}: {e}"))
            })?;
            match (b.text, b.texts) {
                (Some(t), None) => vec![t],
                (None, Some(ts)) => ts,
                _ => return Err(ApiError::BadRequest("give exactly one of \"text\" and \"texts\"".into())),
            }
        }
        "text/plain" => std::str::from_utf8(&body)
            .map_err(|_| ApiError::BadRequest("body is not valid UTF-8".into()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        other => return Err(ApiError::UnsupportedMediaType(format!("{other}; send application/json or text/plain"))),
    };
    if texts.is_empty() || texts.len() > MAX_ANALYZE_TEXTS {
        return Err(ApiError::BadRequest(format!("send 1 to {MAX_ANALYZE_TEXTS} texts, got {}", texts.len())));
    }
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.analyze(&texts)).await??;
    Ok(HttpResponse::Ok().json(out))
}

async fn nearest(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["iri", "item", "text", "k"])?;
    let k = parse_k(&p)?;
    let query = match (p.get("iri"), p.get("item"), p.get("text")) {
        (Some(i), None, None) => Ok(i.clone()),
        (None, Some(id), None) => Ok(state.engine.minter().product(id).as_str().to_owned()),
        (None, None, Some(t)) => Err(t.clone()),
        _ => return Err(ApiError::BadRequest("give exactly one of iri, item and text".into())),
    };
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.nearest(query, k)).await??;
    Ok(HttpResponse::Ok().json(out))
}

async fn post_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let media = media_type(&req);
    if !matches!(
        media.as_str(),
        "application/json" | "application/x-ndjson" | "application/jsonl" | "application/jsonlines"
    ) {
        return Err(ApiError::UnsupportedMediaType(format!("{media}; send application/json or application/x-ndjson")));
    }
    let body = read_body(&req, payload, state.engine.config.max_body_bytes).await?;
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.post_events(&body)).await??;
    Ok(HttpResponse::Ok().json(out))
}

async fn train(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = rec_params(
        &req,
        &[
            "algorithm",
            "factors",
            "regularization",
            "alpha",
            "iterations",
            "solver",
            "cg_steps",
            "lambda",
            "neighbours",
            "half_life",
            "seed",
        ],
    )?;
    let alg = crate::recommend::Algorithm::from_params(&|k| p.get(k).cloned()).map_err(ApiError::BadRequest)?;
    let engine = Arc::clone(&state.engine);
    let meta = state.pool.run(move || engine.train(&alg, None, |_, _| {})).await??;
    Ok(HttpResponse::Ok().json(meta))
}

async fn model_info(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let live = state.engine.recommender().current().map_err(crate::engine::EngineError::from)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "meta": live.trained.meta,
        "users": live.trained.users.len(),
        "items": live.trained.items.len(),
        "pending_events": live.pending_events(),
    })))
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(include_str!("openapi.json"))
}
