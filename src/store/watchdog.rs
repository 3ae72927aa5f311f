//! One thread that cancels queries whose deadline has passed, instead of a timer per query.

use crossbeam_channel::{Receiver, Sender, unbounded};
use oxigraph::sparql::CancellationToken;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

enum Msg {
    Arm(Instant, u64, CancellationToken),
    Disarm(u64),
}

/// Cancels armed tokens when their deadline passes.
pub(crate) struct Watchdog {
    tx: Sender<Msg>,
    next: AtomicU64,
}

/// Disarms its token when dropped (the query finished in time).
pub(crate) struct Guard {
    tx: Sender<Msg>,
    id: u64,
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
        let _ = self.tx.send(Msg::Arm(deadline, id, token));
        Guard { tx: self.tx.clone(), id }
    }
}

fn run(rx: &Receiver<Msg>) {
    let mut heap: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut tokens: std::collections::HashMap<u64, CancellationToken> = Default::default();
    let mut done: HashSet<u64> = HashSet::new();
    loop {
        let msg = match heap.peek() {
            Some(Reverse((deadline, _))) => match rx.recv_deadline(*deadline) {
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
            Some(Msg::Arm(deadline, id, token)) => {
                heap.push(Reverse((deadline, id)));
                tokens.insert(id, token);
            }
            Some(Msg::Disarm(id)) if tokens.remove(&id).is_some() => {
                done.insert(id);
            }
            Some(Msg::Disarm(_)) => {}
            None => {}
        }
        let now = Instant::now();
        while let Some(Reverse((deadline, id))) = heap.peek().copied() {
            if deadline > now && !done.contains(&id) {
                break;
            }
            heap.pop();
            done.remove(&id);
            if let Some(t) = tokens.remove(&id) {
                t.cancel();
            }
        }
    }
}
