//! The SPARQL 1.1 Graph Store Protocol resource (`/store`): one graph by `?graph=IRI` or
//! `?default`, or the whole dataset (N-Quads, TriG) when neither is given, as Jena's
//! `fetchDataset` / `loadDataset` / `putDataset` use it. Every write body is parsed whole
//! before one transaction applies it.

use super::params::{header_str, media_type, pairs, read_body};
use super::{ApiError, AppState, access};
use crate::audit::Entry;
use crate::auth::Role;
use crate::engine::Engine;
use crate::ontology::vocab;
use crate::store::model::{GraphName, NamedNode};
use crate::store::{GraphFormat, Store, formats};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

/// What a GSP request addresses.
enum Target {
    Graph(GraphName),
    Dataset,
}

/// `?default`, `?graph=IRI`, or neither (the dataset); format names; `validate=`. Other
/// parameters are ignored.
fn target(req: &HttpRequest) -> Result<(Target, Vec<String>, Option<bool>), ApiError> {
    let mut target = None;
    let mut names = Vec::new();
    let mut validate = None;
    for (k, v) in pairs(req)? {
        let g = match k.as_str() {
            "default" => GraphName::DefaultGraph,
            "graph" => GraphName::NamedNode(
                NamedNode::new(&v).map_err(|_| ApiError::BadRequest(format!("graph {v:?} is not an absolute IRI")))?,
            ),
            "format" | "output" => {
                names.push(v);
                continue;
            }
            "validate" => {
                validate = Some(match v.as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(ApiError::BadRequest(format!("validate must be true or false, got {v:?}"))),
                });
                continue;
            }
            _ => continue,
        };
        if target.replace(g).is_some() {
            return Err(ApiError::BadRequest("give exactly one of `default` or `graph`".into()));
        }
    }
    Ok((target.map_or(Target::Dataset, Target::Graph), names, validate))
}

/// Writes to the whole dataset or to a protected graph are an admin's.
fn require_write(req: &HttpRequest, target: &Target) -> Result<(), ApiError> {
    let protected = match target {
        Target::Dataset => true,
        Target::Graph(GraphName::NamedNode(n)) => vocab::is_protected(n.as_str()),
        Target::Graph(_) => false,
    };
    access::of(req).require(if protected { Role::Admin } else { Role::Writer })
}

/// Dataset formats: a graph format here would silently drop the named graphs.
fn dataset_format(names: &[String], accept: Option<&str>) -> Option<GraphFormat> {
    let ok = |f: &GraphFormat| f.supports_datasets();
    if let Some(f) = names.iter().filter_map(|n| formats::graph_by_name(n)).find(ok) {
        return Some(f);
    }
    match accept.map(str::trim) {
        None | Some("") => Some(GraphFormat::NQuads),
        Some(a) if a.contains("*/*") => Some(GraphFormat::NQuads),
        Some(_) => formats::graph_format(&[], accept).filter(ok),
    }
}

pub(super) async fn get(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (target, names, _) = target(&req)?;
    let accept = header_str(req.headers(), header::ACCEPT);
    let engine = Arc::clone(&state.engine);
    let opts = engine.query_options();
    let (format, body) = match target {
        Target::Graph(graph) => {
            let format = formats::graph_format(&names, accept)
                .ok_or_else(|| ApiError::NotAcceptable("Turtle, N-Triples, JSON-LD, RDF/XML, N-Quads, TriG".into()))?;
            (format, state.pool.run(move || engine.store().dump_graph(&graph, format, &opts)).await??)
        }
        Target::Dataset => {
            let format = dataset_format(&names, accept)
                .ok_or_else(|| ApiError::NotAcceptable("N-Quads or TriG for the whole dataset".into()))?;
            (format, state.pool.run(move || engine.store().dump_dataset(format, &opts)).await??)
        }
    };
    let mut resp = HttpResponse::Ok();
    resp.content_type(format.media_type());
    Ok(if req.method() == actix_web::http::Method::HEAD { resp.finish() } else { resp.body(body) })
}

async fn write(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    replace: bool,
) -> Result<HttpResponse, ApiError> {
    let (target, _, validate) = target(&req)?;
    require_write(&req, &target)?;
    let ct = media_type(&req);
    let format = formats::upload_format(&ct).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!("{ct}; send Turtle, N-Triples, RDF/XML, JSON-LD, N-Quads or TriG"))
    })?;
    let body = read_body(&req, payload, state.engine.config.max_body_bytes).await?;
    let engine = Arc::clone(&state.engine);
    let validate = engine.validates(validate);
    let who = access::of(&req).who();
    let action = if replace { "gsp-put" } else { "gsp-post" };
    let created = match target {
        Target::Graph(graph) => {
            let existed = state
                .pool
                .run(move || -> Result<bool, ApiError> {
                    let base = match &graph {
                        GraphName::NamedNode(n) => Some(n.as_str().to_owned()),
                        _ => None,
                    };
                    // Parse everything first: a syntax error leaves the graph as it was.
                    let quads = Store::parse_document(&body, format, graph.clone(), base.as_deref())?;
                    if matches!(&graph, GraphName::NamedNode(n) if n.as_str() == vocab::GRAPH_SHAPES) {
                        // New shapes must read as shapes, or every later validation would fail.
                        Engine::parse_shapes(&quads)?;
                    }
                    let existed = engine.checked(validate, &quads, |check| {
                        if replace {
                            engine.store().replace_graph(&graph, &quads, check)
                        } else {
                            engine.store().add_to_graph(&graph, &quads, check)
                        }
                    })?;
                    engine.audit().record(Entry::new(who, action, Some(graph.to_string()), &body, Some(quads.len())));
                    Ok(existed)
                })
                .await??;
            !existed
        }
        Target::Dataset => {
            state
                .pool
                .run(move || -> Result<(), ApiError> {
                    let quads = Store::parse_dataset_document(&body, format)?;
                    engine.checked(validate, &quads, |check| {
                        if replace {
                            engine.store().replace_dataset(&quads, check)
                        } else {
                            engine.store().add_to_dataset(&quads, check)
                        }
                    })?;
                    engine.audit().record(Entry::new(who, action, Some("dataset".into()), &body, Some(quads.len())));
                    Ok(())
                })
                .await??;
            false
        }
    };
    Ok(if created { HttpResponse::Created().finish() } else { HttpResponse::NoContent().finish() })
}

pub(super) async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    write(state, req, payload, true).await
}

pub(super) async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    write(state, req, payload, false).await
}

pub(super) async fn delete(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (target, _, _) = target(&req)?;
    require_write(&req, &target)?;
    let Target::Graph(graph) = target else {
        return Err(ApiError::BadRequest(
            "DELETE needs `?default` or `?graph=IRI`; to empty the store send the update DROP ALL".into(),
        ));
    };
    let engine = Arc::clone(&state.engine);
    let who = access::of(&req).who();
    state
        .pool
        .run(move || -> Result<(), ApiError> {
            engine.store().delete_graph(&graph)?;
            engine.audit().record(Entry::new(who, "gsp-delete", Some(graph.to_string()), b"", None));
            Ok(())
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
