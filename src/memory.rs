//! The process allocator's settings for a long-running server (how soon freed pages go back to
//! the kernel) and its accounting (what it holds beside what the program uses).
//!
//! A server's memory is mostly transient: query results, batch buffers, RocksDB's compaction
//! buffers and background retrains are allocated and freed within seconds. jemalloc keeps freed
//! ("dirty") pages for `dirty_decay_ms` (10 s by default) before giving them back, so the resident
//! size a monitor sees includes up to ten seconds of churn on top of what the process holds
//! (15-20 MiB in the soak, benches/REPORT.md section 9). `serve` shortens the delay; the batch
//! commands (`finetune`, `extract`) keep the default, which is faster for them (freed pages reused
//! without a fault). `finetune` also starts itself again with [`TRAINING_MALLOC_CONF`] (see there).
//! Settings given in the `MALLOC_CONF` environment variable win.
//!
//! The allocator itself belongs to the binary (`main.rs` installs jemalloc and its control here),
//! so that the library's own tests keep the system allocator their measurements assume.

use std::sync::OnceLock;

/// Errors from reading or writing the allocator's settings.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The allocator refused a setting (jemalloc's `mallctl` error number).
    #[error("the allocator refused {name}: error {code}")]
    Refused {
        /// The setting's name.
        name: String,
        /// `mallctl`'s return value (an errno).
        code: i32,
    },
    /// No control was installed: the process does not run on the binary's jemalloc.
    #[error("no allocator control installed (only the shopgraph binary's jemalloc has one)")]
    NoControl,
}

/// What the binary's allocator lets a server set.
pub trait AllocatorControl: Sync {
    /// Sets how long freed pages are kept, for every arena now and to come.
    fn set_dirty_decay_ms(&self, ms: isize) -> Result<(), MemoryError>;
    /// The longest time any arena, or an arena made later, keeps freed pages.
    fn dirty_decay_ms(&self) -> Result<isize, MemoryError>;
    /// Where the process's memory is, as the allocator counts it; `None` when it was built
    /// without statistics.
    fn figures(&self) -> Result<Option<AllocatorFigures>, MemoryError>;
}

/// The allocator's own accounting, in bytes (jemalloc's `stats.*`), so that what the process
/// uses can be told from what the allocator keeps for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocatorFigures {
    /// Bytes the program has allocated and not freed.
    pub allocated: u64,
    /// Bytes in pages that hold at least one allocation (so `active - allocated` is the free
    /// space inside partly used pages: fragmentation).
    pub active: u64,
    /// Bytes of the allocator's own bookkeeping.
    pub metadata: u64,
    /// Bytes of pages the allocator has touched and not given back (its view of RSS).
    pub resident: u64,
    /// Bytes freed by the program and kept in threads' caches for their next allocations
    /// (counted in `allocated`, not free for other threads).
    pub thread_caches: u64,
}

static CONTROL: OnceLock<&'static dyn AllocatorControl> = OnceLock::new();

/// Called once by the binary, before any command runs.
pub fn install(control: &'static dyn AllocatorControl) {
    let _ = CONTROL.set(control);
}

/// How long freed pages stay with the allocator in `serve`, in milliseconds. One second keeps the
/// reuse that matters (a request's buffers come back within milliseconds) and gives the rest back
/// before a monitor's next once-a-second sample.
pub const SERVE_DIRTY_DECAY_MS: isize = 1000;

/// Sets how long freed pages are kept, unless the operator set `dirty_decay_ms` in `MALLOC_CONF`.
/// Returns whether the setting was applied.
pub fn keep_freed_pages_for(ms: isize) -> Result<bool, MemoryError> {
    if std::env::var("MALLOC_CONF").is_ok_and(|c| c.contains("dirty_decay_ms")) {
        return Ok(false);
    }
    CONTROL.get().ok_or(MemoryError::NoControl)?.set_dirty_decay_ms(ms)?;
    Ok(true)
}

/// The allocator's settings for training, which jemalloc reads only as a process starts (so
/// `finetune` runs itself again with them in `MALLOC_CONF`, unless the operator set that).
///
/// Training allocates and frees the same few megabyte-sized tensors thousands of times a
/// second, many of them zeroed (gradients start at zero). jemalloc zeroes a reused block by
/// handing its pages back to the kernel (`madvise(MADV_DONTNEED)`) and lets the next write
/// fault fresh zero pages in: about 350,000 page faults a second per training process, 45% of
/// its CPU time in the kernel. With `thp:always` it zeroes with `memset` instead (and backs its
/// memory with huge pages where the kernel allows): one epoch on one core went from 110 s to
/// 69 s (benches/REPORT.md section 6, sixteenth session).
pub const TRAINING_MALLOC_CONF: &str = "thp:always";

/// Whether the process allocates through the binary's jemalloc (its control was installed).
pub fn is_installed() -> bool {
    CONTROL.get().is_some()
}

/// The allocator's accounting, when the binary's jemalloc was built with statistics (the
/// default build is; a process without the binary's allocator answers `None`).
pub fn figures() -> Option<AllocatorFigures> {
    let control = CONTROL.get()?;
    match control.figures() {
        Ok(f) => f,
        Err(e) => {
            log::warn!("the allocator's figures could not be read: {e}");
            None
        }
    }
}

/// The longest time any arena keeps freed pages (what [`keep_freed_pages_for`] set, or the
/// default).
pub fn freed_pages_kept_for() -> Result<isize, MemoryError> {
    CONTROL.get().ok_or(MemoryError::NoControl)?.dirty_decay_ms()
}
