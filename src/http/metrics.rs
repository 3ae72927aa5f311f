//! Prometheus counters and latency histograms per route, rendered at /metrics.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    n: u64,
}

/// Request metrics, shared by every worker.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    ignored_parameters: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, route: &str, method: &str, status: u16, took: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((route.to_owned(), method.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_owned()).or_default();
            let s = took.as_secs_f64();
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += s;
            h.n += 1;
        }
    }

    /// Counts one request parameter that no endpoint defines (ignored, not refused). Counted
    /// without its name: names are the client's and would grow the label set without bound.
    pub fn ignored_parameter(&self) {
        self.ignored_parameters.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP shopgraph_http_requests_total HTTP requests by route, method and status.\n# TYPE shopgraph_http_requests_total counter\n",
        );
        if let Ok(r) = self.requests.lock() {
            for ((route, method, status), n) in r.iter() {
                out.push_str(&format!(
                    "shopgraph_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}\n"
                ));
            }
        }
        out.push_str("# HELP shopgraph_http_request_duration_seconds Request latency by route.\n# TYPE shopgraph_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    out.push_str(&format!(
                        "shopgraph_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}\n",
                        h.counts[i]
                    ));
                }
                out.push_str(&format!(
                    "shopgraph_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n",
                    h.n
                ));
                out.push_str(&format!("shopgraph_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n", h.sum));
                out.push_str(&format!("shopgraph_http_request_duration_seconds_count{{route=\"{route}\"}} {}\n", h.n));
            }
        }
        out.push_str(&format!(
            "# HELP shopgraph_ignored_parameters_total Request parameters no endpoint defines, ignored.\n# TYPE shopgraph_ignored_parameters_total counter\nshopgraph_ignored_parameters_total {}\n",
            self.ignored_parameters.load(std::sync::atomic::Ordering::Relaxed)
        ));
        out
    }
}
