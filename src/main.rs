//! The `shopgraph` binary: a thin shell over [`shopgraph::cli::run`], and the owner of the
//! process's allocator (jemalloc, with its control handed to [`shopgraph::memory`]).

// The whole process allocates through jemalloc (see Cargo.toml for why).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    shopgraph::memory::install(&jemalloc::Control);
    match shopgraph::cli::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// jemalloc's settings through `mallctl`, its only control interface (C, so `unsafe`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod jemalloc {
    use shopgraph::memory::{AllocatorControl, AllocatorFigures, MemoryError};

    pub struct Control;

    impl AllocatorControl for Control {
        fn set_dirty_decay_ms(&self, ms: isize) -> Result<(), MemoryError> {
            // Each arena made so far, then the default for arenas made later. (The index
            // MALLCTL_ARENAS_ALL is not accepted for this setting: jemalloc answers EFAULT.)
            for i in 0..arenas()? {
                match write(&format!("arena.{i}.dirty_decay_ms\0"), ms) {
                    // An index no thread has used yet has no arena: it takes the default below.
                    Err(MemoryError::Refused { code: EFAULT, .. }) => {}
                    other => other?,
                }
            }
            write("arenas.dirty_decay_ms\0", ms)
        }

        fn dirty_decay_ms(&self) -> Result<isize, MemoryError> {
            let mut longest = read::<isize>("arenas.dirty_decay_ms\0")?;
            for i in 0..arenas()? {
                match read::<isize>(&format!("arena.{i}.dirty_decay_ms\0")) {
                    Ok(v) => longest = longest.max(v),
                    Err(MemoryError::Refused { code: EFAULT, .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(longest)
        }

        fn figures(&self) -> Result<Option<AllocatorFigures>, MemoryError> {
            // The statistics are a snapshot taken when the epoch advances.
            write::<u64>("epoch\0", 1)?;
            let allocated = match read::<usize>("stats.allocated\0") {
                Ok(v) => v,
                // Built without statistics: jemalloc has no such name.
                Err(MemoryError::Refused { code: ENOENT, .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let size = |name: &str| read::<usize>(name).map(|v| v as u64);
            Ok(Some(AllocatorFigures {
                allocated: allocated as u64,
                active: size("stats.active\0")?,
                metadata: size("stats.metadata\0")?,
                resident: size("stats.resident\0")?,
                // Index 4096 (MALLCTL_ARENAS_ALL) is every arena's statistics merged.
                thread_caches: size("stats.arenas.4096.tcache_bytes\0")?,
            }))
        }
    }

    /// errno's ENOENT: jemalloc's answer for a name it does not have.
    const ENOENT: i32 = 2;

    /// errno's EFAULT: jemalloc's answer for an arena index no thread has used.
    const EFAULT: i32 = 14;

    /// How many arena indices there are (made or not).
    fn arenas() -> Result<u32, MemoryError> {
        read::<u32>("arenas.narenas\0")
    }

    fn name_of(name: &str) -> String {
        name.trim_end_matches('\0').to_owned()
    }

    fn read<T: Default>(name: &str) -> Result<T, MemoryError> {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: `name` is NUL-terminated; `value` and `len` describe the C type the setting
        // holds (ssize_t for decay times, unsigned for arena counts, size_t for statistics).
        let code = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr().cast(),
                (&mut value as *mut T).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        if code == 0 { Ok(value) } else { Err(MemoryError::Refused { name: name_of(name), code }) }
    }

    fn write<T>(name: &str, mut value: T) -> Result<(), MemoryError> {
        // SAFETY: `name` is NUL-terminated, and `T` is the C type the setting takes (ssize_t for
        // decay times, uint64_t for the statistics' epoch).
        let code = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                (&mut value as *mut T).cast(),
                std::mem::size_of::<T>(),
            )
        };
        if code == 0 { Ok(()) } else { Err(MemoryError::Refused { name: name_of(name), code }) }
    }

    #[cfg(test)]
    mod tests {
        use shopgraph::memory;

        #[test]
        fn serving_shortens_how_long_freed_pages_are_kept() {
            memory::install(&super::Control);
            let before = memory::freed_pages_kept_for().unwrap();
            if std::env::var("MALLOC_CONF").is_ok_and(|c| c.contains("dirty_decay_ms")) {
                assert!(!memory::keep_freed_pages_for(memory::SERVE_DIRTY_DECAY_MS).unwrap());
                return;
            }
            // The test harness's threads have made arenas already: the setting must reach them,
            // not only arenas made later (the first version set the default alone and, for the
            // arenas in use, asked for an index jemalloc refuses, so `serve` kept 10 s).
            assert_eq!(before, 10_000, "jemalloc's default, which serve changes");
            assert!(memory::keep_freed_pages_for(memory::SERVE_DIRTY_DECAY_MS).unwrap());
            assert_eq!(memory::freed_pages_kept_for().unwrap(), memory::SERVE_DIRTY_DECAY_MS);
        }

        #[test]
        fn the_allocator_reports_what_it_holds() {
            memory::install(&super::Control);
            let f = memory::figures().expect("the binary's jemalloc keeps statistics");
            // Blocks freed by a thread stay in its cache: the figure that says so must see them.
            let cached = std::thread::spawn(|| {
                let blocks: Vec<Vec<u8>> = (0..100).map(|_| vec![1u8; 4096]).collect();
                let before = memory::figures().unwrap().thread_caches;
                drop(blocks);
                memory::figures().unwrap().thread_caches.saturating_sub(before)
            })
            .join()
            .unwrap();
            assert!(cached >= 16 * 4096, "4 KiB blocks freed but not counted as cached: {cached} bytes");
            assert!(f.allocated > 0 && f.active >= f.allocated && f.resident >= f.active, "{f:?}");
        }
    }
}
