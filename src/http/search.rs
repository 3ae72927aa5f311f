//! Product search resources: `GET /search` (results, facets, how the query was read) and
//! `GET /suggest` (completions).

use super::params::{parse_bool, parse_k, rec_params};
use super::{ApiError, AppState};
use crate::ontology::vocab;
use crate::search::{Mode, SearchRequest};
use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::HashMap;
use std::sync::Arc;

const SEARCH_PARAMS: [&str; 14] = [
    "q",
    "k",
    "offset",
    "category",
    "brand",
    "min_price",
    "max_price",
    "min_rating",
    "aspect",
    "in_stock",
    "user",
    "personal_weight",
    "mode",
    "facets",
];

fn number<T: std::str::FromStr>(p: &HashMap<String, String>, name: &str) -> Result<Option<T>, ApiError> {
    p.get(name)
        .map(|v| v.parse::<T>().map_err(|_| ApiError::BadRequest(format!("{name} must be a number, got {v:?}"))))
        .transpose()
}

/// Comma-separated values; a taxonomy id stands for its category.
fn list(p: &HashMap<String, String>, name: &str) -> Vec<String> {
    p.get(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if name == "category" {
                        crate::ontology::category_iri(s)
                    } else if name == "aspect" && !s.contains(':') {
                        format!("{}aspect-{s}", vocab::SG)
                    } else {
                        s.to_owned()
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a search request from the query string (shared with tests and the OpenAPI text).
pub(super) fn request(req: &HttpRequest) -> Result<(SearchRequest, Option<String>), ApiError> {
    let p = rec_params(req, &SEARCH_PARAMS)?;
    let mode = match p.get("mode") {
        None => Mode::Full,
        Some(m) => m.parse().map_err(ApiError::BadRequest)?,
    };
    let user = p.get("user").filter(|u| !u.is_empty()).cloned();
    let r = SearchRequest {
        q: p.get("q").cloned().unwrap_or_default(),
        k: parse_k(&p)?,
        offset: number(&p, "offset")?.unwrap_or(0),
        categories: list(&p, "category"),
        brands: list(&p, "brand"),
        min_price: number(&p, "min_price")?,
        max_price: number(&p, "max_price")?,
        min_rating: number(&p, "min_rating")?,
        aspects: list(&p, "aspect"),
        in_stock: parse_bool(&p, "in_stock", false)?,
        mode,
        personal_weight: number(&p, "personal_weight")?.unwrap_or(if user.is_some() { 0.3 } else { 0.0 }),
        facets: parse_bool(&p, "facets", true)?,
    };
    r.check().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok((r, user))
}

pub(super) async fn search(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (r, user) = request(&req)?;
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.search(&r, user.as_deref())).await??;
    Ok(HttpResponse::Ok().json(out))
}

pub(super) async fn suggest(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["q", "k"])?;
    let k = parse_k(&p)?;
    if k == 0 || k > 50 {
        return Err(ApiError::BadRequest("k must be between 1 and 50".into()));
    }
    let q = p.get("q").cloned().unwrap_or_default();
    if q.chars().count() > 100 {
        return Err(ApiError::BadRequest("q is longer than 100 characters".into()));
    }
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.search_service().map(|s| s.suggest(&q, k))).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "suggestions": out })))
}

pub(super) async fn post_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::params::read_body(&req, payload, state.engine.config.max_body_bytes).await?;
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.post_search_events(&body)).await??;
    Ok(HttpResponse::Ok().json(out))
}

pub(super) async fn report(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = rec_params(&req, &["limit"])?;
    let limit: usize = number(&p, "limit")?.unwrap_or(100);
    let engine = Arc::clone(&state.engine);
    let out = state.pool.run(move || engine.search_report(limit.min(10_000))).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "queries": out })))
}
