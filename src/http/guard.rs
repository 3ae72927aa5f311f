//! What every request passes before a handler sees it, and what every response carries:
//! the `Host` check against DNS rebinding on loopback binds, CORS (preflights and headers),
//! refusal of cross-site writes, security headers, and the HTTP/2 upgrade offer answered so
//! that no client reuses a connection the server is about to close.

use crate::config::{Config, is_loopback_bind};
use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{ConnectionType, Method};

/// The request-level policy, built once from the config.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Origins allowed to read and write from a browser.
    origins: Vec<String>,
    /// `*` was configured: any origin may read (GET, HEAD).
    any_origin_reads: bool,
    /// Bound to a loopback address: check `Host`.
    loopback: bool,
    /// Extra accepted host names.
    hosts: Vec<String>,
}

/// The parts of a request its response headers depend on.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    origin: Option<String>,
    read: bool,
    upgrade_offer: bool,
}

const ALLOWED_REQUEST_HEADERS: &str = "authorization, content-type, accept";
const ALL_METHODS: &str = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
const READ_METHODS: &str = "GET, HEAD, OPTIONS";

impl Guard {
    /// The policy of a config.
    pub fn new(cfg: &Config) -> Self {
        let origins: Vec<String> = cfg
            .cors_origins
            .iter()
            .filter(|o| *o != "*")
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        Self {
            any_origin_reads: cfg.cors_origins.iter().any(|o| o == "*"),
            origins,
            loopback: is_loopback_bind(&cfg.bind),
            hosts: cfg.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }

    /// An answer given instead of calling the handler: a refused host, a CORS preflight, a
    /// cross-site write. `None`: go on.
    pub fn intercept(&self, req: &HttpRequest) -> Option<HttpResponse> {
        if !self.host_ok(req.headers()) {
            return Some(refuse(
                "host_not_allowed",
                "the Host header names no host this server answers to (set allowed_hosts to add one)",
            ));
        }
        let origin = origin(req.headers());
        if req.method() == Method::OPTIONS {
            let Some(origin) = origin else {
                return Some(HttpResponse::NoContent().insert_header((header::ALLOW, ALL_METHODS)).finish());
            };
            let wanted = header_value(req.headers(), header::ACCESS_CONTROL_REQUEST_METHOD).unwrap_or("GET");
            let explicit = self.explicit(origin);
            let reading = matches!(wanted, "GET" | "HEAD");
            if !(explicit || (self.any_origin_reads && reading)) {
                return Some(refuse("cors_refused", &format!("origin {origin} may not send {wanted} requests here")));
            }
            let mut resp = HttpResponse::NoContent();
            resp.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, if explicit { origin } else { "*" }))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    if explicit { ALL_METHODS } else { READ_METHODS },
                ))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_REQUEST_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                .insert_header((header::VARY, "Origin"));
            return Some(resp.finish());
        }
        let safe = matches!(*req.method(), Method::GET | Method::HEAD);
        if !safe
            && let Some(origin) = origin
            && !self.explicit(origin)
            && !same_origin(origin, req.headers())
        {
            // A page on another site can POST a form (no preflight) to a local server; only
            // origins the operator listed may send anything but reads.
            return Some(refuse(
                "cross_origin_write",
                &format!("requests other than GET from origin {origin} are refused; list it in cors_origins"),
            ));
        }
        None
    }

    /// What `decorate` needs of a request, taken before the handler owns it (actix's router
    /// needs the request unshared).
    pub fn facts(req: &HttpRequest) -> RequestFacts {
        RequestFacts {
            origin: origin(req.headers()).map(str::to_owned),
            read: matches!(*req.method(), Method::GET | Method::HEAD),
            upgrade_offer: req.head().upgrade() && !offers_websocket(req.headers()),
        }
    }

    /// Headers added to every response: CORS for allowed origins, security headers, and
    /// `Connection: close` for a request that offered an upgrade we do not take.
    pub fn decorate(&self, req: &RequestFacts, head: &mut actix_web::dev::ResponseHead) {
        let h = &mut head.headers;
        if let Some(origin) = req.origin.as_deref() {
            let value = if self.explicit(origin) {
                Some(origin)
            } else if self.any_origin_reads && req.read {
                Some("*")
            } else {
                None
            };
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                h.insert(header::VARY, HeaderValue::from_static("Origin"));
            }
        }
        for (name, value) in [
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ] {
            h.insert(name, HeaderValue::from_static(value));
        }
        // A Java client offers `Upgrade: h2c` on every request. actix-http then answers
        // `connection: upgrade` and closes the connection after the response; the client
        // takes the connection as reusable and its next write is lost. Saying `close` makes
        // the client open a new connection instead.
        if req.upgrade_offer {
            head.set_connection_type(ConnectionType::Close);
        }
    }

    fn explicit(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    fn host_ok(&self, headers: &HeaderMap) -> bool {
        if !self.loopback {
            return true;
        }
        let Some(host) = header_value(headers, header::HOST) else { return true };
        let name = host_name(host).to_ascii_lowercase();
        matches!(name.as_str(), "localhost" | "[::1]")
            || name.ends_with(".localhost")
            || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
            || self.hosts.contains(&name)
    }
}

fn header_value(h: &HeaderMap, name: HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn origin(h: &HeaderMap) -> Option<&str> {
    header_value(h, header::ORIGIN).map(|o| o.trim_end_matches('/'))
}

fn offers_websocket(h: &HeaderMap) -> bool {
    header_value(h, header::UPGRADE).is_some_and(|u| u.to_ascii_lowercase().contains("websocket"))
}

/// `host[:port]` without the port (IPv6 literals keep their brackets).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.split(':').next().unwrap_or(host)
}

/// The page's origin is this server (`Origin: http://host:port` equal to `Host: host:port`).
fn same_origin(origin: &str, h: &HeaderMap) -> bool {
    let Some(host) = header_value(h, header::HOST) else { return false };
    origin.split_once("://").is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

fn refuse(code: &str, message: &str) -> HttpResponse {
    HttpResponse::Forbidden().json(serde_json::json!({ "error": code, "message": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_binds() {
        assert!(is_loopback_bind("127.0.0.1:7878"));
        assert!(is_loopback_bind("[::1]:7878"));
        assert!(is_loopback_bind("localhost:1"));
        assert!(!is_loopback_bind("0.0.0.0:7878"));
        assert_eq!(host_name("[::1]:80"), "[::1]");
        assert_eq!(host_name("example.com:80"), "example.com");
        assert_eq!(host_name("example.com"), "example.com");
    }
}
