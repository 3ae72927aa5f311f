//! `/queue`: the review queue of held machine facts. `GET /queue` lists (reader);
//! `POST /queue/{id}/accept` (optional JSON body `{"aspect": ..., "sentiment": ...}` to edit
//! first) and `POST /queue/{id}/reject` decide (writer), audited.

use super::{ApiError, AppState, access};
use crate::audit::Entry;
use crate::engine::{Edit, QueueFilter};
use actix_web::{HttpResponse, web};

/// `GET /queue?kind=&product=&reason=&model=&limit=`.
pub(super) async fn list(state: web::Data<AppState>, req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = super::params::rec_params(&req, &["kind", "product", "reason", "model", "limit"])?;
    let limit = super::params::limit(&p, 100, 10_000)?;
    let f = QueueFilter {
        kind: p.get("kind").cloned(),
        product: p.get("product").cloned(),
        reason: p.get("reason").cloned(),
        model: p.get("model").cloned(),
        limit,
    };
    let engine = std::sync::Arc::clone(&state.engine);
    let items = state.pool.run(move || engine.queue_list(&f)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// `POST /queue/{id}/{decision}`: `accept` or `reject`.
pub(super) async fn decide(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, decision) = path.into_inner();
    let edit: Edit = if body.iter().all(u8::is_ascii_whitespace) {
        Edit::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("edit body: {e}")))?
    };
    if decision == "reject" && (edit.aspect.is_some() || edit.sentiment.is_some()) {
        return Err(ApiError::BadRequest("a rejection takes no edits".into()));
    }
    let who = access::of(&req).who();
    let engine = std::sync::Arc::clone(&state.engine);
    let action = match decision.as_str() {
        "accept" => "queue-accept",
        "reject" => "queue-reject",
        other => {
            return Err(ApiError::Engine(crate::engine::EngineError::NotFound(format!(
                "no decision {other:?}: accept or reject"
            ))));
        }
    };
    let d = state
        .pool
        .run(move || -> Result<_, ApiError> {
            let d = if action == "queue-accept" {
                engine.queue_accept(&id, &edit, &who)?
            } else {
                engine.queue_reject(&id, &who)?
            };
            engine.audit().record(Entry::new(who, action, Some(d.item.iri.clone()), &body, Some(1)));
            Ok(d)
        })
        .await??;
    Ok(HttpResponse::Ok().json(d))
}
