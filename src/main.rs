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
    use shopgraph::memory::{AllocatorControl, MemoryError};

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
    }

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
        // holds (ssize_t for decay times, unsigned for arena counts).
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

    fn write(name: &str, mut value: isize) -> Result<(), MemoryError> {
        // SAFETY: `name` is NUL-terminated, and the value is the ssize_t these settings take.
        let code = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                (&mut value as *mut isize).cast(),
                std::mem::size_of::<isize>(),
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
    }
}
