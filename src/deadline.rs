//! Deadlines from timeouts, in one place.
//!
//! Every blocking call of the library takes a timeout (`Option<Duration>`,
//! `None`: wait for ever) and turns it into a deadline once, so that a wait
//! woken early (a spurious futex wake-up, a signal) sleeps only for what is
//! left. `Instant + Duration` panics when the sum cannot be represented, and
//! `Duration::MAX` (or any timeout of a few hundred billion years) cannot:
//! here **a timeout too large to represent means no deadline**, the same as
//! `None`. Nobody can tell the difference by waiting.

use std::time::{Duration, Instant};

/// The instant `timeout` after `from`: `None` when there is no timeout, or
/// when `from + timeout` is too large to represent (no deadline either).
pub fn deadline(from: Instant, timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| from.checked_add(t))
}

/// The deadline `timeout` from now (see [`deadline`]).
pub fn after(timeout: Option<Duration>) -> Option<Instant> {
    deadline(Instant::now(), timeout)
}

/// The time left until `deadline`: `None` when there is none, zero once it
/// has passed.
pub fn left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_too_large_to_represent_is_no_deadline() {
        let now = Instant::now();
        assert_eq!(deadline(now, None), None);
        assert_eq!(deadline(now, Some(Duration::MAX)), None);
        assert_eq!(after(Some(Duration::MAX)), None);
        assert_eq!(left(after(Some(Duration::MAX))), None);
    }

    #[test]
    fn an_ordinary_timeout_gives_its_instant() {
        let now = Instant::now();
        let t = Duration::from_millis(1500);
        assert_eq!(deadline(now, Some(t)), Some(now + t));
        assert_eq!(deadline(now, Some(Duration::ZERO)), Some(now));
        let left = left(after(Some(Duration::from_secs(3600)))).unwrap();
        assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3600));
    }

    #[test]
    fn a_passed_deadline_leaves_zero() {
        assert_eq!(left(Some(Instant::now())), Some(Duration::ZERO));
        assert_eq!(left(None), None);
    }
}
