//! Recommendation resources: `/recommend`, `/similar`, `/explain`, `/events`, `/train`, `/model`.

use super::params::{
    FILTERS, header_str, media_type, parse_bool, parse_filter, parse_k, read_body, rec_params, required,
};
use super::{ApiError, AppState, access};
use crate::audit::Entry;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

pub(super) async fn recommend(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut allowed = vec!["user", "k", "exclude_seen", "cold_start"];
    allowed.extend(FILTERS);
    let p = rec_params(&req, &allowed)?;
    let user = required(&p, "user")?.to_owned();
    let k = parse_k(&p)?;
    let filter = parse_filter(&p)?;
    let exclude = parse_bool(&p, "exclude_seen", true)?;
    let cold = parse_bool(&p, "cold_start", true)?;
    let engine = Arc::clone(&state.engine);
    let out = state.rec_pool.run(move || engine.recommend(&user, k, &filter, exclude, cold)).await??;
    Ok(HttpResponse::Ok().json(out))
}

pub(super) async fn similar(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut allowed = vec!["item", "k"];
    allowed.extend(FILTERS);
    let p = rec_params(&req, &allowed)?;
    let item = required(&p, "item")?.to_owned();
    let k = parse_k(&p)?;
    let filter = parse_filter(&p)?;
    let engine = Arc::clone(&state.engine);
    let out = state.rec_pool.run(move || engine.similar(&item, k, &filter)).await??;
    Ok(HttpResponse::Ok().json(out))
}

pub(super) async fn audience(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["item", "k"])?;
    let item = required(&p, "item")?.to_owned();
    let k = parse_k(&p)?;
    let engine = Arc::clone(&state.engine);
    let out = state.rec_pool.run(move || engine.audience(&item, k)).await??;
    Ok(HttpResponse::Ok().json(out))
}

pub(super) async fn explain(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["user", "item", "format"])?;
    let user = required(&p, "user")?.to_owned();
    let item = required(&p, "item")?.to_owned();
    let turtle = match p.get("format").map(String::as_str) {
        None | Some("json") => header_str(req.headers(), header::ACCEPT).is_some_and(|a| a.starts_with("text/turtle")),
        Some("ttl" | "turtle") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("format must be json or turtle, got {other:?}"))),
    };
    let engine = Arc::clone(&state.engine);
    let out = state.rec_pool.run(move || engine.explain(&user, &item)).await??;
    Ok(if turtle { HttpResponse::Ok().content_type("text/turtle").body(out.rdf) } else { HttpResponse::Ok().json(out) })
}

pub(super) async fn post_events(
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
    let who = access::of(&req).who();
    let out = state
        .pool
        .run(move || -> Result<_, ApiError> {
            let out = engine.post_events(&body)?;
            engine.audit().record(Entry::new(who, "events", None, &body, Some(out.accepted)));
            Ok(out)
        })
        .await??;
    Ok(HttpResponse::Ok().json(out))
}

pub(super) async fn train(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
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
            "feature_weight",
            "feature_ridge",
            "seed",
        ],
    )?;
    let alg = crate::recommend::Algorithm::from_params(&|k| p.get(k).cloned()).map_err(ApiError::BadRequest)?;
    let engine = Arc::clone(&state.engine);
    let who = access::of(&req).who();
    let meta = state
        .pool
        .run(move || -> Result<_, ApiError> {
            let meta = engine.train(&alg, None, |_, _| {})?;
            engine.audit().record(Entry::new(who, "train", Some(meta.version.clone()), b"", Some(meta.interactions)));
            Ok(meta)
        })
        .await??;
    Ok(HttpResponse::Ok().json(meta))
}

pub(super) async fn model_info(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let live = state.engine.recommender().current().map_err(crate::engine::EngineError::from)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "meta": live.trained.meta,
        "users": live.trained.users.len(),
        "items": live.trained.items.len(),
        "pending_events": live.pending_events(),
    })))
}

/// `GET /model/versions`: every saved model version's settings, reason and validation metrics
/// (set when `tune` chose it), oldest first, and which one is served.
pub(super) async fn model_versions(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let engine = Arc::clone(&state.engine);
    let versions = state.pool.run(move || engine.models_dir().map(|d| crate::recommend::saved_metas(&d))).await?;
    let current = state.engine.recommender().current().ok().map(|l| l.trained.meta.version.clone());
    Ok(HttpResponse::Ok().json(serde_json::json!({"current": current, "versions": versions.unwrap_or_default()})))
}

/// `GET /users/{id}/history`: a shopper's interactions (the id is pseudonymised as everywhere).
pub(super) async fn history(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["limit"])?;
    let limit = super::params::limit(&p, 50, 1_000)?;
    let engine = std::sync::Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.user_history(&id, limit)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "history": out })))
}
