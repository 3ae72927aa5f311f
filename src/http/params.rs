//! Request plumbing shared by the resources: query-string pairs, strict UTF-8, media types,
//! bodies read under the limit, and the typed parameters of the recommendation endpoints.

use super::ApiError;
use crate::store::model::NamedNode;
use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web;
use futures_util::StreamExt;
use std::collections::HashMap;

/// Query-string pairs, repeated keys kept.
pub(super) fn pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    strict_utf8(req.query_string().as_bytes())?;
    serde_urlencoded::from_str(req.query_string()).map_err(|e| ApiError::BadRequest(format!("bad query string: {e}")))
}

/// The URL decoder replaces invalid UTF-8 silently; a query mangled that way must be refused.
pub(super) fn strict_utf8(encoded: &[u8]) -> Result<(), ApiError> {
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

pub(super) fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

pub(super) fn media_type(req: &HttpRequest) -> String {
    header_str(req.headers(), header::CONTENT_TYPE)
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Reads the body up to the configured limit, refusing early on a too-large Content-Length.
pub(super) async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
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

pub(super) fn utf8(body: Vec<u8>) -> Result<String, ApiError> {
    String::from_utf8(body).map_err(|e| ApiError::BadRequest(format!("body is not UTF-8: {e}")))
}

/// Query parameters of endpoints with a fixed set (recommendation, queue, ontology), as strings
/// so every parse error is ours: an unknown or repeated one is a 400.
pub(super) fn rec_params(req: &HttpRequest, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
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

pub(super) fn required<'a>(p: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    p.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("missing `{name}` parameter")))
}

pub(super) fn parse_k(p: &HashMap<String, String>) -> Result<usize, ApiError> {
    match p.get("k") {
        None => Ok(10),
        Some(v) => v.parse().map_err(|_| ApiError::BadRequest(format!("k must be a positive integer, got {v:?}"))),
    }
}

pub(super) fn parse_bool(p: &HashMap<String, String>, name: &str, default: bool) -> Result<bool, ApiError> {
    match p.get(name).map(String::as_str) {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(v) => Err(ApiError::BadRequest(format!("{name} must be true or false, got {v:?}"))),
    }
}

pub(super) fn parse_filter(p: &HashMap<String, String>) -> Result<crate::recommend::facets::Filter, ApiError> {
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
        Some(c) if c.chars().all(|ch| ch.is_ascii_digit()) && !c.is_empty() => Some(crate::ontology::category_iri(c)),
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

pub(super) const FILTERS: [&str; 5] = ["category", "brand", "min_price", "max_price", "in_stock"];

/// The `limit` parameter: `default` when absent, else a whole number from 1 to `max`.
pub(super) fn limit(p: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, ApiError> {
    match p.get("limit") {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("limit must be 1 to {max}, got {v:?}"))),
    }
}
