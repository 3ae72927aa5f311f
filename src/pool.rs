//! A bounded pool of threads for heavy work (queries, updates, loads), so HTTP workers only await.

use crossbeam_channel::{Sender, TrySendError, bounded};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Stack of each pool thread.
pub const POOL_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Errors of the pool.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Every thread is busy and the queue is full.
    #[error("server busy: {0} requests already queued; retry later")]
    Busy(usize),
    /// The job panicked; the pool thread survives.
    #[error("internal error: the job panicked")]
    Panicked,
}

/// Fixed threads reading a bounded queue.
#[derive(Debug, Clone)]
pub struct Pool {
    tx: Sender<Job>,
    depth: usize,
    running: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Pool {
    /// `threads` workers, at most `depth` jobs waiting.
    pub fn new(threads: usize, depth: usize) -> Self {
        let (tx, rx) = bounded::<Job>(depth);
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let busy = std::sync::Arc::clone(&running);
            std::thread::Builder::new()
                .name(format!("shopgraph-pool-{i}"))
                // Parsers and the SPARQL evaluator recurse per nesting level; the input guards
                // bound the depth, this leaves a wide margin under it (address space, not RSS).
                .stack_size(POOL_STACK_BYTES)
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        job();
                        busy.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    }
                })
                .expect("spawning a pool thread");
        }
        Self { tx, depth, running }
    }

    /// Jobs waiting for a thread.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` on the pool and awaits its result; answers `Busy` at once when the queue is full.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, PoolError> {
        let (otx, orx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = otx.send(r);
        });
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                return Err(PoolError::Busy(self.depth));
            }
        }
        match orx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) | Err(_) => Err(PoolError::Panicked),
        }
    }
}
