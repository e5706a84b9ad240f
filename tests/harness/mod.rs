//! The harness of the test binaries that start child processes (process,
//! pool, synchronize). They have their own `main` (libtest-mimic keeps the
//! command line that cargo test and nextest expect) because spawn and the
//! forkserver re-run the binary, which must call `mp::freeze_support()` first.
#![allow(dead_code)] // each test file uses its own subset

use libtest_mimic::{Arguments, Failed, Trial};
use mp::StartMethod;

pub type TestResult = Result<(), Failed>;
pub type PerMethod = fn(StartMethod) -> TestResult;
pub type Global = fn() -> TestResult;

/// Fails the test with `what` unless `cond` holds.
pub fn check(cond: bool, what: impl Into<String>) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(what.into().into())
    }
}

/// Runs each `per_method` test under every start method (named
/// `METHOD::NAME`) and each `global` test once (named `PREFIX::NAME`), then
/// exits with libtest's status. Call it after `mp::freeze_support()`.
pub fn run(per_method: &[(&str, PerMethod)], prefix: &str, global: &[(&str, Global)]) -> ! {
    let args = Arguments::from_args();
    let mut tests = Vec::new();
    for m in mp::get_all_start_methods() {
        for &(name, f) in per_method {
            tests.push(Trial::test(format!("{m}::{name}"), move || f(m)));
        }
    }
    for &(name, f) in global {
        tests.push(Trial::test(format!("{prefix}::{name}"), f));
    }
    libtest_mimic::run(&args, tests).exit()
}
