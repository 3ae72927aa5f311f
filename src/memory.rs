//! Giving freed heap memory back to the operating system.
//!
//! glibc keeps freed memory in its arenas for reuse and returns little of it by itself: after a
//! retrain (buffers the size of the interaction matrix, freed at once) a server's resident size
//! stayed ~50 MiB above its level before, although the memory was free (`malloc_trim` on the
//! running process gave it back: 228 to 144 MiB). A trim after big work and on the housekeeping
//! tick keeps the resident size close to what is in use.

/// Returns free heap memory to the operating system (a no-op off glibc). Takes the allocator's
/// locks for a few milliseconds per hundred MiB of heap: call it after big work, not per request.
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it takes no
        // pointer of ours and frees nothing that is in use.
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
