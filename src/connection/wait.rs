//! `wait()`: block until any of several connections or process sentinels is ready.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::error::{Error, Result};

/// Something [`wait`] can wait on: a [`super::Connection`] (ready when a message
/// or end of file can be read), a [`crate::Process`] (ready when the child has
/// exited), or a plain descriptor (ready when readable).
pub trait Waitable {
    /// The descriptor to poll for readability; `None` if closed (never ready).
    fn wait_fd(&self) -> Option<BorrowedFd<'_>>;
    /// True when the object is ready without polling (e.g. buffered input).
    fn ready_now(&self) -> bool {
        false
    }
}

impl Waitable for OwnedFd {
    fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

impl Waitable for BorrowedFd<'_> {
    fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

impl Waitable for crate::reduction::Fd {
    fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

/// Python's `multiprocessing.connection.wait`: waits until at least one object
/// is ready, or `timeout` passes (`None`: no limit), and returns the indices of
/// the ready objects (empty on timeout).
///
/// ```
/// use std::time::Duration;
/// let (a, b) = mp::pipe(true).unwrap();
/// let (c, d) = mp::pipe(true).unwrap();
/// c.send_bytes(b"x").unwrap();
/// let ready = mp::wait(&[&b, &d], Some(Duration::from_secs(1))).unwrap();
/// assert_eq!(ready, vec![1]);
/// # drop(a);
/// ```
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>> {
    let ready: Vec<usize> = (0..objects.len())
        .filter(|&i| objects[i].ready_now())
        .collect();
    if !ready.is_empty() {
        return Ok(ready);
    }
    let mut index = Vec::with_capacity(objects.len());
    let mut fds = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        if let Some(fd) = o.wait_fd() {
            index.push(i);
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
    }
    let deadline = crate::deadline::after(timeout);
    loop {
        let ms: PollTimeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so a short timeout still sleeps, and clamp to poll's range.
                let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        match nix::poll::poll(&mut fds, ms) {
            Ok(0) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Vec::new());
                }
            }
            Ok(_) => {
                return Ok(fds
                    .iter()
                    .zip(&index)
                    .filter(|(p, _)| p.revents().is_some_and(|r| !r.is_empty()))
                    .map(|(_, &i)| i)
                    .collect());
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::io("poll", e.into())),
        }
    }
}
