//! Admin resources: API keys (`/keys`: list, create, shown once, revoke) and the audit log
//! (`/audit`).

use super::{ApiError, AppState, access};
use crate::audit::Entry;
use crate::auth::Role;
use actix_web::{HttpResponse, web};

/// `GET /keys`: every key, revoked ones included, without secrets.
pub(super) async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.engine.keys().list().map_err(crate::engine::EngineError::from)?;
    Ok(HttpResponse::Ok().json(keys))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewKey {
    name: String,
    role: String,
}

/// `POST /keys` with `{"name": ..., "role": "reader|writer|admin"}`.
pub(super) async fn create(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let new: NewKey = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body must be {{\"name\": ..., \"role\": ...}}: {e}")))?;
    let role: Role = new.role.parse().map_err(crate::engine::EngineError::from)?;
    let (record, key) = state.engine.keys().create(&new.name, role).map_err(crate::engine::EngineError::from)?;
    log::info!("created API key {} ({}, {})", record.id, record.name, record.role);
    state.engine.audit().record(Entry::new(access::of(&req).who(), "key-create", Some(record.id.clone()), b"", None));
    Ok(HttpResponse::Created().json(serde_json::json!({ "key": key, "record": record })))
}

/// `DELETE /keys/{id}`.
pub(super) async fn revoke(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = state.engine.keys().revoke(&id).map_err(crate::engine::EngineError::from)?;
    log::info!("revoked API key {} ({})", record.id, record.name);
    state.engine.audit().record(Entry::new(access::of(&req).who(), "key-revoke", Some(record.id.clone()), b"", None));
    Ok(HttpResponse::Ok().json(record))
}

/// `GET /audit?limit=N`: the newest N entries (default 100, at most 10,000), oldest first.
pub(super) async fn audit(state: web::Data<AppState>, req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = super::params::rec_params(&req, &["limit"])?;
    let limit = super::params::limit(&p, 100, 10_000)?;
    let engine = std::sync::Arc::clone(&state.engine);
    let entries = state.pool.run(move || engine.audit().tail(limit)).await?;
    Ok(HttpResponse::Ok().json(entries))
}

/// `DELETE /users/{id}`: forgets a shop's user id (interactions, events, authorship, model
/// rows, report lines). Admin only.
pub(super) async fn forget_user(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let engine = std::sync::Arc::clone(&state.engine);
    let who = access::of(&req).who();
    let out = state
        .pool
        .run(move || -> Result<_, ApiError> {
            let out = engine.forget_user(&id)?;
            // The log says a user was forgotten, never which.
            engine.audit().record(Entry::new(who, "user-forget", None, b"", Some(out.quads)));
            Ok(out)
        })
        .await??;
    Ok(HttpResponse::Ok().json(out))
}

/// `POST /reason`: rebuilds the inferred graph. Admin only.
pub(super) async fn reason(state: web::Data<AppState>, req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let engine = std::sync::Arc::clone(&state.engine);
    let who = access::of(&req).who();
    let report = state
        .pool
        .run(move || -> Result<_, ApiError> {
            let r = engine.reason()?;
            engine.audit().record(Entry::new(
                who,
                "reason",
                Some(crate::ontology::vocab::GRAPH_INFERRED.into()),
                b"",
                Some(r.inferred),
            ));
            Ok(r)
        })
        .await??;
    Ok(HttpResponse::Ok().json(report))
}

/// `POST /fuse`: proposes duplicate brands and products as same-as candidates in the review
/// queue. Admin.
pub(super) async fn fuse(state: web::Data<AppState>, req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let engine = std::sync::Arc::clone(&state.engine);
    let who = access::of(&req).who();
    let report = state
        .pool
        .run(move || -> Result<_, ApiError> {
            let r = engine.propose_duplicates()?;
            engine.audit().record(Entry::new(
                who,
                "fuse",
                Some(crate::ontology::vocab::GRAPH_QUEUE.into()),
                b"",
                Some(r.brands + r.products),
            ));
            Ok(r)
        })
        .await??;
    Ok(HttpResponse::Ok().json(report))
}

/// `GET /inference/explain?subject=IRI&predicate=IRI&object=IRI`: the rule and premises that
/// give an inferred triple (404 when nothing stored yields it).
pub(super) async fn explain_inference(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    use crate::store::model::{NamedNode, Term};
    let p = super::params::rec_params(&req, &["subject", "predicate", "object"])?;
    let iri = |name: &str| -> Result<NamedNode, ApiError> {
        let v = super::params::required(&p, name)?;
        NamedNode::new(v).map_err(|_| ApiError::BadRequest(format!("{name} must be an absolute IRI, got {v:?}")))
    };
    let (s, pr, o) = (iri("subject")?, iri("predicate")?, iri("object")?);
    let engine = std::sync::Arc::clone(&state.engine);
    let found = state.pool.run(move || engine.explain_inference(&s, &pr, &Term::NamedNode(o))).await??;
    match found {
        Some(d) => Ok(HttpResponse::Ok().json(d)),
        None => Ok(HttpResponse::NotFound().json(serde_json::json!({
            "error": "not_inferred",
            "message": "no rule yields this triple from what is stored",
        }))),
    }
}
