//! Ending what a dead worker was running.
//!
//! A command runs in its own process group, a child of the pool worker that
//! started it. When that worker is killed outright (SIGKILL, the OOM
//! killer), nobody is left to end the command: `PR_SET_PDEATHSIG` reaches
//! only the direct child, and a command may ignore SIGTERM. So the process
//! that runs the pool becomes a *child subreaper* (`PR_SET_CHILD_SUBREAPER`):
//! every process orphaned below it is re-parented to it instead of init, and
//! a thread here ends the process group of each such orphan: SIGTERM at
//! once, SIGKILL after the grace period if it is still there, and reaps it.
//!
//! What counts as an orphan: a child of this process in another process
//! group than this process's own. Pool workers and the fork server stay in
//! our group; every command mp starts leads its own. The same thread ends
//! what a finished command left running in the background (its group got
//! SIGTERM from the worker; one that ignores it is re-parented here when
//! the command's shell exits).
//!
//! [`reap_orphans`] also starts the sentinel (see `sentinel`), which ends
//! the running commands if this process is itself killed outright; the
//! groups this thread is ending are recorded in the sentinel's table too,
//! and [`end_orphans`] stops the sentinel.

use std::collections::HashMap;
use std::io;
use std::sync::Once;
use std::time::{Duration, Instant};

/// How often the children are looked at.
const SCAN_EVERY: Duration = Duration::from_millis(100);

static STARTED: Once = Once::new();
/// The grace period given to [`reap_orphans`] (nanoseconds; 0: not started).
static GRACE_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Makes this process the subreaper of everything started below it,
/// starts the thread that ends orphaned process groups (SIGTERM, then
/// SIGKILL after `grace`), and forks the sentinel, which ends the running
/// commands should this process be killed outright (their workers record
/// them for it when the pool's initializer is [`super::prepare_worker`]
/// with a [`super::WorkerSetup`] made after this call). `spill`: the
/// run's spill directory (flat: files only), which the sentinel removes
/// after ending the commands, so a killed run leaves no output files
/// behind either. Call it once,
/// before starting a pool whose tasks run commands; later calls do
/// nothing.
///
/// # Caveats
/// Every child of this process outside its own process group is taken for
/// an orphan and ended: do not use it in a program that starts long-lived
/// process-group or session leaders of its own (the resource tracker of
/// named [`SharedMemory`](mp::shared_memory) segments is one). A helper
/// a running command double-forks is left alone while the command (its
/// group's leader) runs.
pub fn reap_orphans(grace: Duration, spill: Option<&std::path::Path>) -> io::Result<()> {
    let mut result = Ok(());
    STARTED.call_once(|| {
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes a plain integer.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            result = Err(io::Error::last_os_error());
            return;
        }
        // Before the reaper thread: it must know the sentinel is no orphan.
        if let Err(e) = super::sentinel::start(spill) {
            result = Err(io::Error::new(
                e.kind(),
                format!("cannot start the sentinel process: {e}"),
            ));
            return;
        }
        let ns = u64::try_from(grace.as_nanos()).unwrap_or(u64::MAX).max(1);
        GRACE_NS.store(ns, std::sync::atomic::Ordering::SeqCst);
        result = std::thread::Builder::new()
            .name("mp-reaper".into())
            .spawn(move || reaper(grace))
            .map(|_| ());
    });
    result
}

fn reaper(grace: Duration) {
    // Process group -> when it was sent SIGTERM.
    let mut ending: HashMap<i32, Instant> = HashMap::new();
    loop {
        // Nothing is orphaned before the first tasks run.
        std::thread::sleep(SCAN_EVERY);
        sweep(&mut ending, grace);
    }
}

/// Before this process exits: ends every orphaned process group now
/// (SIGTERM, SIGKILL after the grace period given to [`reap_orphans`])
/// and waits until they are gone, so nothing outlives it. Does nothing
/// unless [`reap_orphans`] was called.
pub fn end_orphans() {
    let ns = GRACE_NS.load(std::sync::atomic::Ordering::SeqCst);
    if ns == 0 {
        return;
    }
    let grace = Duration::from_nanos(ns);
    let mut ending = HashMap::new();
    // A group seen late still gets its grace and then KILL; then a little
    // longer for the kernel to reap.
    let until = Instant::now()
        .checked_add(
            grace
                .saturating_mul(2)
                .saturating_add(Duration::from_secs(2)),
        )
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
    while sweep(&mut ending, grace) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    super::sentinel::stop();
}

/// One look at the children: orphaned groups get SIGTERM when first seen,
/// SIGKILL once `grace` has passed; exited orphans are reaped. Returns how
/// many orphans were seen.
fn sweep(ending: &mut HashMap<i32, Instant>, grace: Duration) -> usize {
    // SAFETY: getpgrp has no preconditions.
    let own_group = unsafe { libc::getpgrp() };
    let sentinel = super::sentinel::pid();
    let now = Instant::now();
    let mut seen = Vec::new();
    let mut newly = Vec::new();
    for pid in children() {
        let Some((state, pgrp)) = stat(pid) else {
            continue;
        };
        // Group 1 would make kill(-1) signal everything we may signal.
        // The sentinel leads a group of its own on purpose.
        if pgrp == own_group || pgrp <= 1 || Some(pid) == sentinel {
            continue;
        }
        if state == b'Z' {
            // An orphan that has exited: reap it (only this pid, never
            // a worker's status, which the pool waits for).
            // SAFETY: waiting for one child of ours without blocking.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
            // Others of its group may still run.
        }
        if pid != pgrp && leader_runs_elsewhere(pgrp) {
            // A helper the command double-forked (`(x &)`): its command,
            // the group's leader, still runs under its worker. The group
            // is ended when the leader is gone, not before.
            continue;
        }
        seen.push(pgrp);
        match ending.get(&pgrp) {
            None => {
                // SIGTERM below, once the sentinel's table holds it.
                ending.insert(pgrp, now);
                newly.push(pgrp);
            }
            Some(&since) if now.duration_since(since) >= grace => {
                log::info!("orphaned process group {pgrp} outlived the grace period: SIGKILL");
                // SAFETY: as above.
                unsafe { libc::kill(-pgrp, libc::SIGKILL) };
            }
            Some(_) => {}
        }
    }
    let mut gone = Vec::new();
    ending.retain(|g, _| {
        let keep = seen.contains(g);
        if !keep {
            gone.push(*g);
        }
        keep
    });
    let held: Vec<i32> = ending.keys().copied().collect();
    super::sentinel::record_held(&held, &gone);
    for pgrp in newly {
        log::info!("orphaned process group {pgrp}: SIGTERM");
        // SAFETY: signalling an orphaned process group.
        unsafe { libc::kill(-pgrp, libc::SIGTERM) };
    }
    seen.len()
}

/// The pids of the main thread's children: orphans are re-parented to the
/// subreaper's thread-group leader (while it lives), so this one file lists
/// them all; children started by other threads (pool workers) are not
/// orphans and need not be seen.
///
/// Kernels without `CONFIG_PROC_CHILDREN` have no such file: then every
/// `/proc/PID/stat` is read for the processes whose parent we are.
fn children() -> Vec<i32> {
    let me = std::process::id() as i32;
    let path = format!("/proc/self/task/{me}/children");
    if let Ok(list) = std::fs::read_to_string(path) {
        return list
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .collect();
    }
    let Ok(all) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    all.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| stat_full(pid).is_some_and(|(_, ppid, _)| ppid == me))
        .collect()
}

/// Whether the leader of group `pgrp` (the process whose pid is `pgrp`)
/// is alive and not our child: a command still running under its worker.
/// A leader re-parented to us means its worker died (end the group); a
/// leader gone, or a zombie, means its command is over (end the leftovers).
fn leader_runs_elsewhere(pgrp: i32) -> bool {
    match stat_full(pgrp) {
        // The same pid with another group would be a reused pid.
        Some((state, ppid, group)) => {
            state != b'Z' && group == pgrp && ppid != std::process::id() as i32
        }
        None => false,
    }
}

/// A process's state letter and process group, from /proc/PID/stat.
fn stat(pid: i32) -> Option<(u8, i32)> {
    stat_full(pid).map(|(state, _, pgrp)| (state, pgrp))
}

/// A process's state letter, parent and process group, from /proc/PID/stat.
fn stat_full(pid: i32) -> Option<(u8, i32, i32)> {
    let s = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
    let close = s.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&s[close + 1..]).ok()?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.bytes().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_stat() {
        let (state, pgrp) = stat(std::process::id() as i32).unwrap();
        assert!(matches!(state, b'R' | b'S'));
        // SAFETY: getpgrp has no preconditions.
        assert_eq!(pgrp, unsafe { libc::getpgrp() });
    }
}
