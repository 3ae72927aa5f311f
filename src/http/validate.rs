//! `POST /validate`: a body checked against the SHACL shapes as if it were added to the store
//! (nothing is written), or, with an empty body and `graph=IRI` / `default` / `all`, what is
//! stored. Answers a SHACL validation report: JSON by default, or any RDF format by Accept.

use super::params::{header_str, media_type, pairs, read_body};
use super::{ApiError, AppState};
use crate::store::model::{GraphName, NamedNode};
use crate::store::{GraphFormat, Store, formats};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

/// What the request asks to validate when its body is empty.
enum Stored {
    Graph(GraphName),
    All,
}

pub(super) async fn validate(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut stored = None;
    let mut names = Vec::new();
    for (k, v) in pairs(&req)? {
        let s = match k.as_str() {
            "graph" => Stored::Graph(GraphName::NamedNode(
                NamedNode::new(&v).map_err(|_| ApiError::BadRequest(format!("graph {v:?} is not an absolute IRI")))?,
            )),
            "default" => Stored::Graph(GraphName::DefaultGraph),
            "all" => Stored::All,
            "format" | "output" => {
                names.push(v);
                continue;
            }
            _ => continue,
        };
        if stored.replace(s).is_some() {
            return Err(ApiError::BadRequest("give at most one of `graph`, `default` or `all`".into()));
        }
    }
    let accept = header_str(req.headers(), header::ACCEPT).map(str::to_owned);
    // JSON unless the client names an RDF format (by `format=` or Accept).
    let wants_json = names.iter().any(|n| n == "json")
        || (names.is_empty()
            && accept
                .as_deref()
                .is_none_or(|a| a.trim().is_empty() || a.contains("application/json") || a.contains("*/*")));
    let rdf = if wants_json { None } else { formats::graph_format(&names, accept.as_deref()) };
    let body = read_body(&req, payload, state.engine.config.max_body_bytes).await?;
    let ct = media_type(&req);
    let engine = Arc::clone(&state.engine);
    let report = state
        .pool
        .run(move || -> Result<_, ApiError> {
            if body.is_empty() {
                return Ok(match stored {
                    Some(Stored::Graph(g)) => engine.validate_stored(Some(&g))?,
                    Some(Stored::All) => engine.validate_stored(None)?,
                    None => {
                        return Err(ApiError::BadRequest(
                            "send RDF to check, or an empty body with graph=IRI, default or all".into(),
                        ));
                    }
                });
            }
            if stored.is_some() {
                return Err(ApiError::BadRequest("a body is validated as an upload: drop graph/default/all".into()));
            }
            let format = formats::upload_format(&ct).ok_or_else(|| {
                ApiError::UnsupportedMediaType(format!(
                    "{ct}; send Turtle, N-Triples, RDF/XML, JSON-LD, N-Quads or TriG"
                ))
            })?;
            let quads = if format.supports_datasets() && !matches!(format, GraphFormat::JsonLd { .. }) {
                Store::parse_dataset_document(&body, format)?
            } else {
                Store::parse_document(&body, format, GraphName::DefaultGraph, None)?
            };
            Ok(engine.validate_document(&quads)?)
        })
        .await??;
    Ok(match rdf {
        Some(format) => {
            let bytes = formats::write_triples(
                &report.to_triples(),
                format,
                &[("sh", crate::shacl::SH), ("sg", crate::ontology::vocab::SG)],
            )
            .map_err(|e| ApiError::BadRequest(format!("cannot write the report: {e}")))?;
            HttpResponse::Ok().content_type(format.media_type()).body(bytes)
        }
        None => HttpResponse::Ok().json(report),
    })
}
