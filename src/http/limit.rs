//! Per-client limits: a token bucket per API key (or per peer address when no key is sent),
//! answering 429 with `Retry-After` when it runs dry, and a cap on the requests one client has
//! in flight at once, so one client cannot occupy every worker.

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

/// Requests in flight per client.
#[derive(Debug, Default)]
pub struct InFlight {
    max: usize,
    counts: std::sync::Arc<Mutex<HashMap<String, usize>>>,
}

/// Holds one in-flight slot until dropped (when the response is done).
#[derive(Debug)]
pub struct Slot {
    client: String,
    counts: std::sync::Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.counts.lock()
            && let Some(n) = c.get_mut(&self.client)
        {
            *n -= 1;
            if *n == 0 {
                c.remove(&self.client);
            }
        }
    }
}

impl InFlight {
    /// At most `max` requests in flight per client; 0: no cap.
    pub fn new(max: usize) -> Self {
        Self { max, counts: std::sync::Arc::default() }
    }

    /// A slot for `client`, or `None` when it has `max` requests running already.
    pub fn acquire(&self, client: &str) -> Option<Option<Slot>> {
        if self.max == 0 {
            return Some(None);
        }
        let mut c = self.counts.lock().ok()?;
        let n = c.entry(client.to_owned()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Some(Slot { client: client.to_owned(), counts: std::sync::Arc::clone(&self.counts) }))
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

    #[test]
    fn in_flight_slots_are_capped_per_client_and_freed_on_drop() {
        let f = InFlight::new(2);
        let a1 = f.acquire("a").unwrap();
        let a2 = f.acquire("a").unwrap();
        assert!(f.acquire("a").is_none());
        assert!(f.acquire("b").is_some());
        drop(a1);
        assert!(f.acquire("a").is_some());
        drop(a2);
        assert!(InFlight::new(0).acquire("a").is_some());
    }
}
