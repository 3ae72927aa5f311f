//! Text resources over the language models: `/analyze` and `/nearest`.

use super::params::{media_type, parse_k, read_body, rec_params};
use super::{ApiError, AppState};
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

/// Most texts one `POST /analyze` may carry.
const MAX_ANALYZE_TEXTS: usize = 256;

pub(super) async fn analyze(
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

pub(super) async fn nearest(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
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
