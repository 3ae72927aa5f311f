//! The one mapping from every error shopgraph can raise to an HTTP status and JSON body.

use crate::auth::AuthError;
use crate::engine::EngineError;
use crate::extract::ExtractError;
use crate::ingest::IngestError;
use crate::ontology::OntologyError;
use crate::pool::PoolError;
use crate::queries::NamedQueryError;
use crate::recommend::RecommendError;
use crate::search::SearchError;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// Errors of the HTTP layer: request-shape problems found here, or an engine error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (missing or conflicting parameters, bad encoding).
    #[error("{0}")]
    BadRequest(String),
    /// The body's media type is not one this endpoint reads.
    #[error("unsupported content type {0:?}")]
    UnsupportedMediaType(String),
    /// The body is larger than `max_body_bytes`.
    #[error("request body exceeds the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// No valid API key was sent where one is needed.
    #[error("{0}")]
    Unauthorized(String),
    /// The key's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The client used up its rate limit; retry after this many seconds.
    #[error("rate limit reached; retry in {0} s")]
    RateLimited(u64),
    /// The client accepts no format this endpoint can produce.
    #[error("none of the accepted media types can be produced; offered: {0}")]
    NotAcceptable(String),
    /// From the engine.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// From the work pool.
    #[error(transparent)]
    Pool(#[from] PoolError),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Engine(EngineError::Store(e))
    }
}

impl ApiError {
    /// Short machine-readable code and status. Every variant is listed: adding an error
    /// anywhere makes this fail to compile until it has a status.
    fn code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::BadRequest(_) => (S::BAD_REQUEST, "bad_request"),
            Self::UnsupportedMediaType(_) => (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::PayloadTooLarge(_) => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::NotAcceptable(_) => (S::NOT_ACCEPTABLE, "not_acceptable"),
            Self::Unauthorized(_) => (S::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (S::FORBIDDEN, "forbidden_role"),
            Self::RateLimited(_) => (S::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Pool(PoolError::Busy(_)) => (S::TOO_MANY_REQUESTS, "busy"),
            Self::Pool(PoolError::Panicked) => (S::INTERNAL_SERVER_ERROR, "internal"),
            Self::Engine(e) => match e {
                EngineError::Store(s) => match s {
                    StoreError::Syntax(_) => (S::BAD_REQUEST, "sparql_syntax"),
                    StoreError::Evaluation(_) => (S::BAD_REQUEST, "sparql_evaluation"),
                    StoreError::Timeout(_) => (S::REQUEST_TIMEOUT, "query_timeout"),
                    StoreError::TooManyRows(_) => (S::UNPROCESSABLE_ENTITY, "result_too_large"),
                    StoreError::MemoryBudget(_) => (S::UNPROCESSABLE_ENTITY, "query_memory"),
                    StoreError::RdfSyntax(_) => (S::BAD_REQUEST, "rdf_syntax"),
                    StoreError::GraphNotFound(_) => (S::NOT_FOUND, "graph_not_found"),
                    StoreError::InvalidIri(_) => (S::BAD_REQUEST, "invalid_iri"),
                    StoreError::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
                    StoreError::NotAcceptable(_) => (S::NOT_ACCEPTABLE, "not_acceptable"),
                    StoreError::Storage(_) => (S::INTERNAL_SERVER_ERROR, "storage"),
                    StoreError::Invalid(_) => (S::UNPROCESSABLE_ENTITY, "shacl_violation"),
                    StoreError::Shapes(_) => (S::BAD_REQUEST, "bad_shape"),
                },
                EngineError::NamedQuery(n) => match n {
                    NamedQueryError::Unknown(_) => (S::NOT_FOUND, "unknown_query"),
                    NamedQueryError::MissingParam(_)
                    | NamedQueryError::UnknownParam { .. }
                    | NamedQueryError::BadParam { .. } => (S::BAD_REQUEST, "bad_parameter"),
                    NamedQueryError::Header { .. } | NamedQueryError::Io(_) => {
                        (S::INTERNAL_SERVER_ERROR, "named_query_broken")
                    }
                },
                EngineError::Ingest(i) => match i {
                    IngestError::Mapping { .. } | IngestError::MissingColumn { .. } => (S::BAD_REQUEST, "bad_mapping"),
                    IngestError::Io { .. } | IngestError::Key(_) => (S::INTERNAL_SERVER_ERROR, "ingest_io"),
                },
                EngineError::Ontology(o) => match o {
                    OntologyError::Parse { .. } | OntologyError::Taxonomy { .. } | OntologyError::Iri(_) => {
                        (S::INTERNAL_SERVER_ERROR, "ontology")
                    }
                },
                EngineError::Recommend(r) => match r {
                    RecommendError::Input(_) => (S::BAD_REQUEST, "bad_input"),
                    RecommendError::UnknownUser(_) => (S::NOT_FOUND, "unknown_user"),
                    RecommendError::UnknownItem(_) => (S::NOT_FOUND, "unknown_item"),
                    RecommendError::BadK { .. } => (S::BAD_REQUEST, "bad_k"),
                    RecommendError::NoModel => (S::CONFLICT, "no_model"),
                    RecommendError::Ease(_) => (S::UNPROCESSABLE_ENTITY, "ease_unfit"),
                    RecommendError::Persist { .. } => (S::INTERNAL_SERVER_ERROR, "model_files"),
                },
                EngineError::Extract(x) => match x {
                    ExtractError::Input(_) => (S::UNPROCESSABLE_ENTITY, "bad_text"),
                    ExtractError::Manifest(_)
                    | ExtractError::MissingFile { .. }
                    | ExtractError::Checksum { .. }
                    | ExtractError::Runtime(_) => (S::SERVICE_UNAVAILABLE, "models_unavailable"),
                    ExtractError::Model(_) | ExtractError::Training(_) | ExtractError::Io { .. } => {
                        (S::INTERNAL_SERVER_ERROR, "model_failed")
                    }
                },
                EngineError::Input(_) => (S::BAD_REQUEST, "bad_input"),
                EngineError::NotFound(_) => (S::NOT_FOUND, "not_found"),
                EngineError::Search(x) => match x {
                    SearchError::Input(_) => (S::BAD_REQUEST, "bad_search"),
                    SearchError::Io { .. } | SearchError::Index(_) => (S::INTERNAL_SERVER_ERROR, "search_index"),
                },
                EngineError::Auth(a) => match a {
                    AuthError::UnknownKey(_) => (S::NOT_FOUND, "unknown_key"),
                    AuthError::BadRole(_) | AuthError::BadName => (S::BAD_REQUEST, "bad_key_request"),
                    AuthError::Io { .. } => (S::INTERNAL_SERVER_ERROR, "key_store"),
                },
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.code();
        if status.is_server_error() {
            log::error!("{code}: {self}");
        }
        let mut resp = HttpResponse::build(status);
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = if let Self::RateLimited(s) = self { *s } else { 1 };
            resp.insert_header((actix_web::http::header::RETRY_AFTER, wait.to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer realm=\"shopgraph\""));
        }
        // A refused validated write answers with its SHACL report, so the client sees each
        // violation, not only that there were some.
        if let Self::Engine(EngineError::Store(StoreError::Invalid(report))) = self {
            return resp.json(serde_json::json!({ "error": code, "message": self.to_string(), "report": report }));
        }
        resp.json(serde_json::json!({ "error": code, "message": self.to_string() }))
    }
}
