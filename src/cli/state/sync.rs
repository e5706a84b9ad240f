//! `mp event` and `mp barrier`: waiting for each other.

use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use mp::managers::{BarrierProxy, EventProxy};
use mp::pickle::Value;

use super::{Classify, ManagerOpts, NOTHING};
use crate::cli::map::parse_duration;

const EVENT_AFTER: &str = "\
NAME is an event on the manager (Python's threading.Event), made on first
use, clear; Python's register('NAME') gives a proxy to the same event.

Examples:
  mp event wait ready --timeout 30s || { echo 'not ready' >&2; exit 1; }
  mp event set ready              # wakes every waiter, now and later
  mp event clear ready
  mp event is-set ready && echo set

Exit codes: 0 done (wait: the event is set; is-set: it is); 1 wait: timed
out, is-set: it is not set; 2 usage error, or NAME is not an event; 3 the
manager cannot be reached or the connection broke; 4 the manager refused.
Ctrl-C while waiting ends mp (the shell sees 130) and the manager forgets
the wait.";

/// Arguments of `mp event`.
#[derive(Debug, Args)]
#[command(after_help = EVENT_AFTER)]
pub struct EventArgs {
    #[command(flatten)]
    opts: ManagerOpts,
    #[command(subcommand)]
    verb: EventVerb,
}

#[derive(Debug, Subcommand)]
enum EventVerb {
    /// Set the event: every waiter goes on, and waits return at once until
    /// it is cleared.
    Set {
        /// The event.
        name: String,
    },
    /// Clear the event.
    Clear {
        /// The event.
        name: String,
    },
    /// Wait until the event is set (for ever, or up to --timeout; exit 1
    /// on timeout).
    Wait {
        /// The event.
        name: String,
        /// Wait at most DURATION (1.5, 500ms, 2m).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<Duration>,
    },
    /// Exit 0 if the event is set, 1 if not.
    IsSet {
        /// The event.
        name: String,
    },
}

/// `mp event`.
pub fn event(args: EventArgs) -> Result<i32> {
    let o = &args.opts;
    let named = |name: &str| o.named::<EventProxy>(name, "Event", vec![]);
    let set = match args.verb {
        EventVerb::Set { name } => named(&name)?.set().at(o).map(|()| true)?,
        EventVerb::Clear { name } => named(&name)?.clear().at(o).map(|()| true)?,
        EventVerb::Wait { name, timeout } => named(&name)?.wait(timeout).at(o)?,
        EventVerb::IsSet { name } => named(&name)?.is_set().at(o)?,
    };
    Ok(if set { 0 } else { NOTHING })
}

const BARRIER_AFTER: &str = "\
NAME is a barrier on the manager (Python's threading.Barrier), made on
first use for N parties; every client must give the same N. Python's
register('NAME') gives a proxy to the same barrier.

Examples:
  # on each of 4 hosts: nobody starts phase 2 before all finished phase 1
  ./phase1 && mp barrier wait phase1 --parties 4 --timeout 10m && ./phase2
  mp barrier reset phase1         # after a timeout broke it

Exit codes: 0 every party arrived; 1 the barrier broke (a waiter timed out:
that breaks it for everyone, as in Python; or it was reset while waiting,
or is broken: reset it); 2 usage error, or NAME is not a barrier of N
parties; 3 the manager cannot be reached or the connection broke; 4 the
manager refused. Ctrl-C while waiting ends mp (the shell sees 130) and the
barrier no longer counts it.";

/// Arguments of `mp barrier`.
#[derive(Debug, Args)]
#[command(after_help = BARRIER_AFTER)]
pub struct BarrierArgs {
    #[command(flatten)]
    opts: ManagerOpts,
    #[command(subcommand)]
    verb: BarrierVerb,
}

#[derive(Debug, Subcommand)]
enum BarrierVerb {
    /// Wait until N parties wait on the barrier, then all go on.
    Wait {
        /// The barrier.
        name: String,
        /// How many parties it waits for.
        #[arg(short = 'n', long, value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..))]
        parties: u32,
        /// Wait at most DURATION (1.5, 500ms, 2m): then the barrier breaks,
        /// for every waiter.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<Duration>,
    },
    /// Make a broken barrier usable again (its waiters, if any, fail).
    Reset {
        /// The barrier.
        name: String,
    },
}

/// `mp barrier`.
pub fn barrier(args: BarrierArgs) -> Result<i32> {
    let o = &args.opts;
    match args.verb {
        BarrierVerb::Wait {
            name,
            parties,
            timeout,
        } => {
            let b: BarrierProxy = o.named(&name, "Barrier", vec![Value::Int(parties.into())])?;
            match b.wait(timeout) {
                Ok(_) => Ok(0),
                Err(mp::Error::BrokenBarrier) => Ok(NOTHING),
                Err(e) => Err(e).at(o),
            }
        }
        BarrierVerb::Reset { name } => {
            // Any number of parties: the barrier exists or this fails.
            let b: BarrierProxy = o.named(&name, "Barrier", vec![]).map_err(|e| {
                if e.to_string().contains("parties must be > 0") {
                    anyhow::Error::new(crate::cli::wire::Usage(format!(
                        "there is no barrier {name:?} to reset (mp barrier wait --parties N \
                         makes one)"
                    )))
                } else {
                    e
                }
            })?;
            b.reset().at(o)?;
            Ok(0)
        }
    }
}
