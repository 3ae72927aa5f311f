//! Per-client request rate limits: a token bucket per API key (or per peer address when no key
//! is sent), answering 429 with `Retry-After` when it runs dry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept before idle ones are dropped (anonymous clients are keyed by address).
const MAX_BUCKETS: usize = 10_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The limiter of one server.
pub struct Limiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("per_second", &self.per_second).field("burst", &self.burst).finish()
    }
}

impl Limiter {
    /// `per_second` requests on average, `burst` at once; `per_second` 0 turns it off.
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self { per_second, burst: burst.max(1.0), buckets: Mutex::default() }
    }

    /// Takes a token for `client`; `Err(seconds)` until one is available.
    pub fn take(&self, client: &str) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(client) {
            // Full buckets carry no state worth keeping.
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let b = buckets.entry(client.to_owned()).or_insert(Bucket { tokens: self.burst, last: now });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * self.per_second).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_with_the_wait_and_clients_apart() {
        let l = Limiter::new(2.0, 3.0);
        for _ in 0..3 {
            assert!(l.take("key:a").is_ok());
        }
        assert_eq!(l.take("key:a"), Err(1));
        assert!(l.take("key:b").is_ok(), "another client has its own bucket");
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert!(l.take("key:a").is_ok(), "tokens come back at the rate");
        assert!(Limiter::new(0.0, 1.0).take("x").is_ok());
    }
}
