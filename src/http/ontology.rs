//! `/ontology`: the store's ontology and shapes as numbered versions. `GET /ontology` gives the
//! versions (JSON) or, asked for an RDF format, exports one (`version=`, `part=`);
//! `GET /ontology/diff?from=&to=` compares two; `POST /ontology` applies a change set (Turtle
//! additions or a SPARQL Update) as a new version after checking it (admin, audited).

use super::params::{header_str, media_type, read_body, rec_params, utf8};
use super::{ApiError, AppState, access};
use crate::audit::Entry;
use crate::engine::Patch;
use crate::store::formats;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

/// `GET /ontology[?version=&part=&format=]`.
pub(super) async fn get(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["version", "part", "format"])?;
    let accept = header_str(req.headers(), header::ACCEPT).unwrap_or("");
    let names: Vec<String> = p.get("format").cloned().into_iter().collect();
    let wants_json = names.iter().any(|n| n == "json")
        || (names.is_empty() && (accept.is_empty() || accept.contains("application/json") || accept.contains("*/*")));
    let engine = Arc::clone(&state.engine);
    if wants_json {
        if p.contains_key("version") || p.contains_key("part") {
            return Err(ApiError::BadRequest("version and part choose an export: ask for an RDF format".into()));
        }
        let info = state.pool.run(move || engine.ontology_versions()).await??;
        return Ok(HttpResponse::Ok().json(info));
    }
    let format = formats::graph_format(&names, Some(accept))
        .ok_or_else(|| ApiError::NotAcceptable("JSON (the versions), TriG, N-Quads, Turtle, N-Triples".into()))?;
    let version = p.get("version").cloned().unwrap_or_else(|| "current".into());
    let part = p.get("part").cloned().unwrap_or_else(|| "ontology".into());
    let body = state.pool.run(move || engine.ontology_export(&version, format, &part)).await??;
    Ok(HttpResponse::Ok().content_type(format.media_type()).body(body))
}

/// `GET /ontology/diff?from=&to=` (`to` defaults to `current`).
pub(super) async fn diff(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["from", "to"])?;
    let from = p.get("from").cloned().ok_or_else(|| ApiError::BadRequest("from is required".into()))?;
    let to = p.get("to").cloned().unwrap_or_else(|| "current".into());
    let engine = Arc::clone(&state.engine);
    let d = state.pool.run(move || engine.ontology_diff(&from, &to)).await??;
    Ok(HttpResponse::Ok().json(d))
}

/// `POST /ontology[?note=]`: body `text/turtle` (triples to add) or `application/sparql-update`.
pub(super) async fn apply(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["note"])?;
    let note = p.get("note").cloned().unwrap_or_default();
    let ct = media_type(&req);
    let body = read_body(&req, payload, state.engine.config.max_body_bytes).await?;
    let digest = body.clone();
    let text = utf8(body)?;
    let patch = match ct.as_str() {
        "text/turtle" | "application/x-turtle" => Patch::Turtle(text),
        "application/sparql-update" => Patch::Update(text),
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "{other}; send text/turtle (triples to add) or application/sparql-update"
            )));
        }
    };
    let who = access::of(&req).who();
    let engine = Arc::clone(&state.engine);
    let v = state
        .pool
        .run(move || -> Result<_, ApiError> {
            let v = engine.ontology_apply(&patch, &who, &note)?;
            engine.audit().record(Entry::new(
                who,
                "ontology-apply",
                Some(crate::ontology::vocab::GRAPH_ONTOLOGY.into()),
                &digest,
                Some(v.triples),
            ));
            Ok(v)
        })
        .await??;
    Ok(HttpResponse::Created().json(v))
}
