//! Who may call what: the bearer key of a request, the role each route needs, and the checks
//! handlers add where the body decides (a SPARQL update, a write to a protected graph).

use super::ApiError;
use crate::auth::{Caller, Keys, Role};
use crate::config::AuthMode;
use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;
use actix_web::http::{Method, header};

/// The caller of one request, put in its extensions by the middleware.
#[derive(Debug, Clone)]
pub struct Access {
    /// The server's mode.
    pub mode: AuthMode,
    /// The verified key's holder, if a key was sent.
    pub caller: Option<Caller>,
}

impl Access {
    /// Passes when the mode does not ask for a key here, or the caller's role is `need` or more.
    pub fn require(&self, need: Role) -> Result<(), ApiError> {
        let asked = match self.mode {
            AuthMode::Off => false,
            AuthMode::Writes => need > Role::Reader,
            AuthMode::All => true,
        };
        if !asked {
            return Ok(());
        }
        match &self.caller {
            None => Err(ApiError::Unauthorized(format!(
                "this needs an API key with the {need} role: send `Authorization: Bearer <key>`"
            ))),
            Some(c) if c.role < need => {
                Err(ApiError::Forbidden(format!("key {:?} has the {} role; this needs {need}", c.name, c.role)))
            }
            Some(_) => Ok(()),
        }
    }

    /// Who did it, for logs and audit: the key's id, or `anonymous`.
    pub fn who(&self) -> String {
        self.caller.as_ref().map_or_else(|| "anonymous".into(), |c| format!("key:{}", c.key_id))
    }
}

/// The role a route needs before its handler runs; `None`: open to everyone. Handlers ask for
/// more where the request body decides (updates, protected graphs).
pub(super) fn route_role(pattern: &str, method: &Method) -> Option<Role> {
    let write = !matches!(*method, Method::GET | Method::HEAD);
    Some(match pattern {
        "/" | "/console/editor.js" | "/health" | "/openapi.json" => return None,
        "/train" | "/keys" | "/keys/{id}" | "/audit" | "/users/{id}" | "/reason" | "/fuse" => Role::Admin,
        "/events" | "/search/events" | "/queue/{id}/{decision}" => Role::Writer,
        "/store" if write => Role::Writer,
        "/ontology" if write => Role::Admin,
        _ => Role::Reader,
    })
}

/// Reads the bearer key, checks the route's role, and leaves the `Access` in the request.
pub(super) fn authenticate(keys: &Keys, mode: AuthMode, req: &ServiceRequest) -> Result<(), ApiError> {
    let caller = match req.headers().get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => {
            let key = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).map(str::trim);
            match key.and_then(|k| keys.verify(k)) {
                Some(c) => Some(c),
                // A wrong key is an error even where none is needed: the client thinks it is
                // someone, and should hear that it is not.
                None if mode != AuthMode::Off => {
                    return Err(ApiError::Unauthorized("the API key is unknown, malformed or revoked".into()));
                }
                None => None,
            }
        }
        Some(Err(_)) => return Err(ApiError::Unauthorized("the Authorization header is not text".into())),
    };
    let access = Access { mode, caller };
    let pattern = req.match_pattern().unwrap_or_default();
    if let Some(need) = route_role(&pattern, req.method()) {
        access.require(need)?;
    }
    req.extensions_mut().insert(access);
    Ok(())
}

/// The access of a request inside a handler (the middleware always sets it).
pub(super) fn of(req: &actix_web::HttpRequest) -> Access {
    req.extensions().get::<Access>().cloned().unwrap_or(Access { mode: AuthMode::All, caller: None })
}

/// Takes a token from the caller's bucket: the key's id when one was verified, else the peer
/// address. Runs after `authenticate`, so a refused key spends nothing.
/// Returns the in-flight slot to hold until the response is done.
pub(super) fn rate_limit(
    limiter: &super::limit::Limiter,
    in_flight: &super::limit::InFlight,
    req: &ServiceRequest,
) -> Result<Option<super::limit::Slot>, ApiError> {
    // Probes must see a busy server as alive.
    if req.match_pattern().as_deref() == Some("/health") {
        return Ok(None);
    }
    let client = match req.extensions().get::<Access>().and_then(|a| a.caller.as_ref()) {
        Some(c) => format!("key:{}", c.key_id),
        None => format!("addr:{}", req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()),
    };
    limiter.take(&client).map_err(ApiError::RateLimited)?;
    in_flight.acquire(&client).ok_or(ApiError::RateLimited(1))
}
