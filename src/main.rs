//! The `mp` command: a thin wrapper over the `mp` library.

mod cli;

fn main() {
    tune_malloc();
    // MP_LOG (set by -v in the parent too): a worker logs as mp does.
    cli::logging::init(0);
    // A copy of this program started by spawn or the forkserver becomes the child here.
    mp::freeze_support();
    std::process::exit(cli::run());
}

/// `mp map` moves data in blocks of up to a few MiB. glibc serves blocks
/// past 128 KiB with a fresh mmap and gives freed memory back at once, so
/// every block paid page faults and zeroing again (a third of the CPU of
/// `mp map --persistent cat` on 79 MB). Blocks now come from the heap, and up
/// to 32 MiB of free heap is kept for reuse; peak RSS does not change.
/// Workers inherit this (fork) or run it again (spawn, forkserver).
fn tune_malloc() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
    }
}
