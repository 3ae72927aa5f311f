//! One thread that cancels queries whose deadline has passed, instead of a timer per query, and
//! that, while queries run, samples the process's resident memory: past the configured limit
//! every running query is cancelled and marked, so it answers "over the memory budget" instead
//! of growing until the machine kills the server.

use crossbeam_channel::{Receiver, Sender, unbounded};
use oxigraph::sparql::CancellationToken;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

enum Msg {
    Arm(Instant, u64, CancellationToken, Arc<AtomicBool>),
    Disarm(u64),
    Limit(Option<u64>),
}

/// How often resident memory is read while a query runs.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Cancels armed tokens when their deadline passes.
pub(crate) struct Watchdog {
    tx: Sender<Msg>,
    next: AtomicU64,
}

/// Disarms its token when dropped (the query finished in time).
pub(crate) struct Guard {
    tx: Sender<Msg>,
    id: u64,
    over_memory: Arc<AtomicBool>,
}

impl Guard {
    /// Whether the query was cancelled for the memory limit rather than its deadline.
    pub(crate) fn over_memory(&self) -> bool {
        self.over_memory.load(Ordering::Relaxed)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Disarm(self.id));
    }
}

impl Watchdog {
    pub(crate) fn start() -> Self {
        let (tx, rx) = unbounded();
        std::thread::Builder::new()
            .name("shopgraph-watchdog".into())
            .spawn(move || run(&rx))
            .expect("spawning the query watchdog thread");
        Self { tx, next: AtomicU64::new(0) }
    }

    pub(crate) fn arm(&self, deadline: Instant, token: CancellationToken) -> Guard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let over_memory = Arc::new(AtomicBool::new(false));
        let _ = self.tx.send(Msg::Arm(deadline, id, token, Arc::clone(&over_memory)));
        Guard { tx: self.tx.clone(), id, over_memory }
    }

    /// Resident memory (bytes) past which running queries are cancelled; `None`: no limit.
    pub(crate) fn set_memory_limit(&self, bytes: Option<u64>) {
        let _ = self.tx.send(Msg::Limit(bytes));
    }
}

fn run(rx: &Receiver<Msg>) {
    let mut heap: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut tokens: std::collections::HashMap<u64, (CancellationToken, Arc<AtomicBool>)> = Default::default();
    let mut done: HashSet<u64> = HashSet::new();
    let mut limit: Option<u64> = None;
    loop {
        // With queries running and a limit set, wake at least every SAMPLE_EVERY to look at memory.
        let wake = heap.peek().map(|Reverse((deadline, _))| *deadline).map(|d| match limit {
            Some(_) if !tokens.is_empty() => d.min(Instant::now() + SAMPLE_EVERY),
            _ => d,
        });
        let msg = match wake {
            Some(at) => match rx.recv_deadline(at) {
                Ok(m) => Some(m),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
            },
            None => match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            },
        };
        match msg {
            Some(Msg::Arm(deadline, id, token, flag)) => {
                heap.push(Reverse((deadline, id)));
                tokens.insert(id, (token, flag));
            }
            Some(Msg::Disarm(id)) if tokens.remove(&id).is_some() => {
                done.insert(id);
            }
            Some(Msg::Disarm(_)) => {}
            Some(Msg::Limit(l)) => limit = l,
            None => {}
        }
        if let Some(max) = limit
            && !tokens.is_empty()
            && resident_bytes().is_some_and(|rss| rss > max)
        {
            log::warn!("resident memory over {} MiB: cancelling {} running queries", max >> 20, tokens.len());
            for (_, (token, flag)) in tokens.drain() {
                flag.store(true, Ordering::Relaxed);
                token.cancel();
            }
        }
        let now = Instant::now();
        while let Some(Reverse((deadline, id))) = heap.peek().copied() {
            if deadline > now && !done.contains(&id) && tokens.contains_key(&id) {
                break;
            }
            heap.pop();
            done.remove(&id);
            if let Some((t, _)) = tokens.remove(&id) {
                t.cancel();
            }
        }
    }
}

/// The process's resident memory, from /proc (Linux); `None` elsewhere.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
