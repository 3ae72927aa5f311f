//! A bounded pool of threads for heavy work (queries, updates, loads), so HTTP workers only await.

use crossbeam_channel::{RecvTimeoutError, Sender, TrySendError, bounded};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Stack of each pool thread.
pub const POOL_STACK_BYTES: usize = 64 * 1024 * 1024;

/// How long a pool thread waits for its next job before telling the allocator it is idle.
///
/// jemalloc gives each thread a cache of freed blocks and empties it only as that same thread
/// allocates again, so a thread that served a burst and then waits keeps its cache's blocks (and
/// the partly used pages under them) from every other thread; in the soak that was most of the
/// first minutes' rise in resident size (benches/REPORT.md section 9). A thread that has waited
/// this long hands its cache back once; a busy thread (a job at least this often) never pays it.
pub const IDLE_AFTER: Duration = Duration::from_millis(250);

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
    idle_hints: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Pool {
    /// `threads` workers, at most `depth` jobs waiting.
    pub fn new(threads: usize, depth: usize) -> Self {
        let (tx, rx) = bounded::<Job>(depth);
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let idle_hints = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let busy = std::sync::Arc::clone(&running);
            let hints = std::sync::Arc::clone(&idle_hints);
            std::thread::Builder::new()
                .name(format!("shopgraph-pool-{i}"))
                // Parsers and the SPARQL evaluator recurse per nesting level; the input guards
                // bound the depth, this leaves a wide margin under it (address space, not RSS).
                .stack_size(POOL_STACK_BYTES)
                .spawn(move || {
                    loop {
                        let job = match rx.recv_timeout(IDLE_AFTER) {
                            Ok(job) => job,
                            Err(RecvTimeoutError::Timeout) => {
                                crate::memory::this_thread_goes_idle();
                                hints.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                match rx.recv() {
                                    Ok(job) => job,
                                    Err(_) => return,
                                }
                            }
                            Err(RecvTimeoutError::Disconnected) => return,
                        };
                        busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        job();
                        busy.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    }
                })
                .expect("spawning a pool thread");
        }
        Self { tx, depth, running, idle_hints }
    }

    /// How many times a thread of this pool went idle (waited [`IDLE_AFTER`] for a job) and
    /// handed its allocator cache back.
    pub fn idle_hints(&self) -> u64 {
        self.idle_hints.load(std::sync::atomic::Ordering::Relaxed)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_waits_hands_its_cache_back_once_per_wait() {
        let pool = Pool::new(1, 4);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let wait_for = |at_least: u64| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while pool.idle_hints() < at_least {
                assert!(std::time::Instant::now() < deadline, "no idle hint after 10 s");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        // Started and waiting: one hint, and no more however long it waits.
        wait_for(1);
        std::thread::sleep(IDLE_AFTER * 3);
        assert_eq!(pool.idle_hints(), 1);
        // Jobs closer together than IDLE_AFTER add none; the wait after them adds one.
        for _ in 0..5 {
            assert_eq!(rt.block_on(pool.run(|| 2 + 2)).unwrap(), 4);
        }
        assert_eq!(pool.idle_hints(), 1);
        wait_for(2);
        std::thread::sleep(IDLE_AFTER * 3);
        assert_eq!(pool.idle_hints(), 2);
    }
}
