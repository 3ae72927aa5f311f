//! The SPARQL 1.1 Protocol resource (`/sparql`) and named queries (`/queries`).
//!
//! Clients send more than the Protocol names: SPARQLWrapper adds `format=`, `output=` and
//! `results=` to every request, rdflib's SERVICE adds `output=json`. Those name the wanted
//! format; any other parameter the Protocol does not define is ignored and counted in
//! /metrics, as the oxigraph server and Fuseki do, instead of failing the request.

use super::params::{header_str, media_type, pairs, read_body, strict_utf8, utf8};
use super::{ApiError, AppState, access};
use crate::audit::Entry;
use crate::auth::Role;
use crate::ontology::vocab;
use crate::store::{self, OutputFormats, QueryOptions, UpdateDataset, formats};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::HashMap;
use std::sync::Arc;

/// Protocol parameters other than the operation itself.
#[derive(Default)]
struct ProtocolParams {
    default_graphs: Vec<String>,
    named_graphs: Vec<String>,
    using_graphs: Vec<String>,
    using_named_graphs: Vec<String>,
    union_default_graph: bool,
    /// `infer=true|false`; `None` takes the config's default.
    infer: Option<bool>,
    /// `validate=true|false` on updates; `None` takes the config's default.
    validate: Option<bool>,
    /// `format`, `output` and `results` values in request order.
    formats: Vec<String>,
}

/// Names that carry a wanted result format.
const FORMAT_PARAMS: [&str; 3] = ["format", "output", "results"];

fn protocol_params(state: &AppState, pairs: &[(String, String)]) -> ProtocolParams {
    let mut p = ProtocolParams::default();
    for (k, v) in pairs {
        match k.as_str() {
            "default-graph-uri" => p.default_graphs.push(v.clone()),
            "named-graph-uri" => p.named_graphs.push(v.clone()),
            "using-graph-uri" => p.using_graphs.push(v.clone()),
            "using-named-graph-uri" => p.using_named_graphs.push(v.clone()),
            "union-default-graph" => p.union_default_graph = !matches!(v.as_str(), "false" | "0"),
            "infer" => p.infer = Some(!matches!(v.as_str(), "false" | "0" | "no")),
            "validate" => p.validate = Some(!matches!(v.as_str(), "false" | "0" | "no")),
            f if FORMAT_PARAMS.contains(&f) => p.formats.push(v.clone()),
            "query" | "update" | "timeout" => {}
            other => {
                log::debug!("ignored protocol parameter {other:?}");
                state.metrics.ignored_parameter();
            }
        }
    }
    p
}

/// Formats from the request's format names, else its Accept header.
pub(super) fn formats_for(req: &HttpRequest, names: &[String]) -> OutputFormats {
    let accept = header_str(req.headers(), header::ACCEPT);
    OutputFormats { results: formats::results_format(names, accept), graph: formats::graph_format(names, accept) }
}

async fn run_query(
    state: &AppState,
    req: &HttpRequest,
    query: String,
    params: ProtocolParams,
) -> Result<HttpResponse, ApiError> {
    let fmts = formats_for(req, &params.formats);
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
        infer: params.infer.unwrap_or(engine.config.infer),
        ..engine.query_options()
    };
    let out = state.pool.run(move || engine.query(&query, &opts, fmts)).await??;
    Ok(HttpResponse::Ok().content_type(out.content_type).body(out.body))
}

async fn run_update(
    state: &AppState,
    req: &HttpRequest,
    update: String,
    params: ProtocolParams,
) -> Result<HttpResponse, ApiError> {
    let access = access::of(req);
    access.require(Role::Writer)?;
    let who = access.who();
    let engine = Arc::clone(&state.engine);
    let dataset = UpdateDataset { using_graphs: params.using_graphs, using_named_graphs: params.using_named_graphs };
    let validate = engine.validates(params.validate);
    state
        .pool
        .run(move || -> Result<(), ApiError> {
            // The ontology, taxonomy, vocabularies and load records are an admin's: so is any
            // update that can reach every graph (DROP ALL, a variable GRAPH in DELETE).
            let parsed = store::parse_update(&update)?;
            if store::write_scope(&parsed).touches(vocab::is_protected) {
                access.require(Role::Admin)?;
            }
            engine.update_checked(parsed, &dataset, validate)?;
            engine.audit().record(Entry::new(who, "sparql-update", None, update.as_bytes(), None));
            Ok(())
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn sparql_get(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let pairs = pairs(&req)?;
    let params = protocol_params(&state, &pairs);
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

pub(super) async fn sparql_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let url_pairs = pairs(&req)?;
    let media = media_type(&req);
    let limit = state.engine.config.max_body_bytes;
    match media.as_str() {
        "application/sparql-query" => {
            let params = protocol_params(&state, &url_pairs);
            let body = utf8(read_body(&req, payload, limit).await?)?;
            run_query(&state, &req, body, params).await
        }
        "application/sparql-update" => {
            let params = protocol_params(&state, &url_pairs);
            let body = utf8(read_body(&req, payload, limit).await?)?;
            run_update(&state, &req, body, params).await
        }
        "application/x-www-form-urlencoded" => {
            let body = read_body(&req, payload, limit).await?;
            strict_utf8(&body)?;
            let form: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|e| ApiError::BadRequest(format!("bad form body: {e}")))?;
            let mut all = url_pairs;
            all.extend(form.iter().cloned());
            let params = protocol_params(&state, &all);
            let query: Vec<_> = form.iter().filter(|(k, _)| k == "query").collect();
            let update: Vec<_> = form.iter().filter(|(k, _)| k == "update").collect();
            match (query.as_slice(), update.as_slice()) {
                ([(_, q)], []) => run_query(&state, &req, q.clone(), params).await,
                ([], [(_, u)]) => run_update(&state, &req, u.clone(), params).await,
                ([], []) => Err(ApiError::BadRequest("form needs a `query` or an `update` field".into())),
                _ => Err(ApiError::BadRequest("form must hold exactly one `query` or `update`".into())),
            }
        }
        other => Err(ApiError::UnsupportedMediaType(format!(
            "{other}; send application/sparql-query, application/sparql-update or application/x-www-form-urlencoded"
        ))),
    }
}

pub(super) async fn list_queries(state: web::Data<AppState>) -> HttpResponse {
    let all: Vec<_> = state.engine.named_queries().all().cloned().collect();
    HttpResponse::Ok().json(all)
}

pub(super) async fn run_named_query(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut params: HashMap<String, String> = HashMap::new();
    let mut names = Vec::new();
    let mut infer = state.engine.config.infer;
    for (k, v) in pairs(&req)? {
        if FORMAT_PARAMS.contains(&k.as_str()) {
            names.push(v);
        } else if k == "infer" {
            infer = !matches!(v.as_str(), "false" | "0" | "no");
        } else if params.insert(k.clone(), v).is_some() {
            return Err(ApiError::BadRequest(format!("parameter {k:?} given twice")));
        }
    }
    let fmts = formats_for(&req, &names);
    if fmts.results.is_none() && fmts.graph.is_none() {
        return Err(ApiError::NotAcceptable("SPARQL results or RDF formats".into()));
    }
    let engine = Arc::clone(&state.engine);
    let name = name.into_inner();
    let out = state.pool.run(move || engine.named_query_with(&name, &params, fmts, infer)).await??;
    Ok(HttpResponse::Ok().content_type(out.content_type).body(out.body))
}
