//! `mp map`: fan records from stdin out over a pool of worker processes, each
//! record running a command. The engine is the library's `Pool` with
//! `mp::command::run_task` as the task function.
//!
//! - `template`: COMMAND and its placeholders, expanded on bytes;
//! - `input`: records, split from the input as bytes;
//! - `output`: results, JSON lines and joblog lines;
//! - `signals`: one place that decides how a run ends early (a signal, a
//!   closed output pipe) and what is cleaned up on every way out.

mod input;
mod output;
mod signals;
mod template;

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use mp::command::{
    run_block, run_task, Block, BlockOutcome, CommandOutcome, CommandTask, Frame, PersistentCommand,
};

use serde::{Deserialize, Serialize};

use super::jobs::{self, DoneSet, Joblog};
use super::wire::Usage;
use input::{InputStatus, Records};
use output::Out;
use template::{Piece, Template};

/// The long help of `mp map` (shown after the options).
const MAP_AFTER: &str = "Records are lines of stdin (or of --arg-file). COMMAND's arguments may
hold placeholders, replaced per record as in GNU parallel:
  {}    the record            {.}   without its extension
  {/}   its basename          {//}  its directory
  {/.}  basename without ext  {#}   the record number (1, 2, ...)
  {%}   the worker slot (1..j)  {1} {2} ...  columns, with --colsep
Without a placeholder the record is appended as the last argument. Without
COMMAND each record is itself a shell command line. A COMMAND given as one
argument with shell syntax (pipes, redirections, spaces) runs with sh -c,
its placeholders shell-quoted; otherwise the command is executed directly.

Each task's stdout and stderr are written whole, never interleaved with
another task's, in input order unless --unordered. Tasks see MP_SEQ (the
record number) and MP_SLOT (the worker slot) in their environment.

With --persistent, each worker starts COMMAND once and writes records to
its stdin; COMMAND answers exactly one reply per record on stdout (one
line with --frame lines; one JSON value with --frame json, where records
arrive as {\"seq\":N,\"record\":\"...\"}). Replies are printed in input order.
A record without a reply (crash, --timeout) fails alone; the command is
restarted and the later records go on. See the README for the protocol.

Long runs: --retries N, --halt soon|now[,fail|success|done=N],
--joblog FILE (GNU parallel's format), --resume / --resume-failed.

Records and arguments are bytes: a file name that is not UTF-8 reaches
the command exactly (with --json, see the README for how such bytes are
carried). A task is over when its command exits; background processes it
leaves behind are ended (TERM, then KILL after --grace).

Examples:
  find . -name '*.log' -print0 | mp map -0 gzip
  seq 100 | mp map -j 50% -- sh -c 'echo $(( {} * {} ))'
  cut -f1,3 data.tsv | mp map --colsep '\\t' echo {2} {1}
  ls *.csv | mp map --timeout 1m sort -o {.}.sorted {}
  mp map --joblog jobs.log --resume -a files.txt gzip -k

Exit codes: 0 every task succeeded; 1 at least one task failed (exited
non-zero, was killed, timed out or could not start; the count is printed on
stderr), or reading input or writing output failed; 2 usage error (a bad
option, an --arg-file that cannot be opened); 141 stdout was closed (as
in `| head`: mp stops quietly, like a program killed by SIGPIPE); 130
after SIGINT; 143 after SIGTERM; 129 after SIGHUP. On a signal or a
closed stdout, every running task's process group is ended (TERM, then
KILL after --grace) and no process is left.";

/// Arguments of `mp map`.
#[derive(Debug, Args)]
#[command(after_help = MAP_AFTER)]
pub struct MapArgs {
    /// Number of worker processes: N, or relative to the CPUs this process
    /// may use: +N (CPUs + N), -N (CPUs - N, at least 1), N% (N percent of
    /// the CPUs, at least 1) [default: the CPUs].
    #[arg(short = 'j', long = "processes", value_name = "N", allow_hyphen_values = true, value_parser = parse_jobs)]
    processes: Option<Jobs>,
    /// Records handed to a worker at a time [default: 1; with --persistent,
    /// the records in flight per worker, adapted to the command's speed when
    /// not given].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    chunksize: Option<usize>,
    /// Replace a worker after it has run N chunks (with --persistent: restart
    /// the command after it has been given N records).
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    maxtasksperchild: Option<usize>,
    /// Time limit per task (e.g. 500ms, 10s, 2m, 1h; a bare number is
    /// seconds; more than a lifetime means no limit; 0 is refused).
    /// The task's whole process group is ended: TERM, --grace, KILL. With
    /// --persistent: the time limit for each reply.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when a task is stopped.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    grace: Duration,
    /// Write results in completion order instead of input order.
    #[arg(long)]
    unordered: bool,
    /// Records are separated by NUL bytes (as from find -print0).
    #[arg(short = '0', long = "null", conflicts_with = "delimiter")]
    null: bool,
    /// Records are separated by this single byte (e.g. , or \t; the escapes
    /// \t \n \r \0 \\ are understood).
    #[arg(short = 'd', long = "delimiter", value_name = "DELIM")]
    delimiter: Option<OsString>,
    /// Read records from FILE instead of stdin.
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    arg_file: Option<PathBuf>,
    /// Split each record into columns {1}, {2}... at this string (the same
    /// escapes as -d; columns are not trimmed). Without a placeholder in
    /// COMMAND, the columns are its last arguments.
    #[arg(long, value_name = "SEP")]
    colsep: Option<OsString>,
    /// Always run COMMAND with sh -c.
    #[arg(long)]
    shell: bool,
    /// Print one JSON object per task instead of its output.
    #[arg(long)]
    json: bool,
    /// Print the commands that would run, one per line, and run nothing.
    #[arg(long)]
    dry_run: bool,
    /// How workers are started: forkserver (a single-threaded copy of mp,
    /// started once, forks each worker), spawn (each worker runs mp again) or
    /// fork (forks mp itself, whose signal, reaper and pool threads run by
    /// then: a worker may inherit a lock one of them held, as with
    /// Python's fork).
    #[arg(long, value_name = "METHOD", default_value = "forkserver", value_parser = parse_start_method)]
    start_method: mp::StartMethod,
    /// Show a progress line on stderr (tasks done, rate, elapsed) [default: on
    /// when stderr is a terminal].
    #[arg(long, overrides_with = "no_progress")]
    progress: bool,
    /// Never show the progress line.
    #[arg(long)]
    no_progress: bool,
    /// Start COMMAND once per worker and feed it records on its stdin; it
    /// answers one reply per record on stdout (see --frame).
    #[arg(long)]
    persistent: bool,
    /// With --persistent: `lines` (a record is one line in, its reply one line
    /// out) or `json` (a record goes in as {"seq":N,"record":"..."} on one
    /// line, the reply is one JSON value; a string reply may hold newlines).
    #[arg(long, value_name = "FRAME", default_value = "lines", value_parser = ["lines", "json"])]
    frame: String,
    /// Run a failed task (or record) again, up to N more times.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,
    /// When to stop early: never (default); soon (after the first failure,
    /// start nothing new, let running tasks finish); now (after the first
    /// failure, kill running tasks); or soon|now,fail|success|done=N.
    #[arg(long, value_name = "WHEN", value_parser = jobs::parse_halt_arg)]
    halt: Option<jobs::HaltArg>,
    /// Append one line per finished task to FILE (GNU parallel's format:
    /// Seq Host Starttime JobRuntime Send Receive Exitval Signal Command).
    #[arg(long, value_name = "FILE")]
    joblog: Option<PathBuf>,
    /// Skip the records that --joblog FILE shows done (same input, same order).
    #[arg(long, requires = "joblog")]
    resume: bool,
    /// Like --resume, but also run again the records whose last run failed.
    #[arg(long, requires = "joblog", conflicts_with = "resume")]
    resume_failed: bool,
    /// The command and its arguments (use -- before it if it has options).
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// `-j`: a number of workers, absolute or relative to the CPUs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jobs {
    /// N.
    Exactly(usize),
    /// +N: CPUs + N.
    More(usize),
    /// -N: CPUs - N (at least 1).
    Fewer(usize),
    /// N%: N percent of the CPUs (at least 1).
    Percent(usize),
}

impl Jobs {
    /// The number of workers for `cpus` CPUs.
    pub fn resolve(self, cpus: usize) -> usize {
        match self {
            Jobs::Exactly(n) => n,
            Jobs::More(n) => cpus.saturating_add(n),
            Jobs::Fewer(n) => cpus.saturating_sub(n).max(1),
            Jobs::Percent(p) => (cpus.saturating_mul(p) / 100).max(1),
        }
    }
}

/// The most workers `-j` may ask for (each is a process with its own
/// sockets; far beyond what a machine runs at once).
const MAX_WORKERS: usize = 65_536;

fn parse_jobs(s: &str) -> std::result::Result<Jobs, String> {
    let bad = || {
        format!("{s:?}: give a number of workers N, or +N, -N or N% of the CPUs (e.g. -j 4, -j +1, -j 50%)")
    };
    let num = |t: &str| t.parse::<usize>().map_err(|_| bad());
    let t = s.trim();
    let jobs = if let Some(p) = t.strip_suffix('%') {
        Jobs::Percent(num(p)?)
    } else if let Some(n) = t.strip_prefix('+') {
        Jobs::More(num(n)?)
    } else if let Some(n) = t.strip_prefix('-') {
        Jobs::Fewer(num(n)?)
    } else {
        Jobs::Exactly(num(t)?)
    };
    if let Jobs::Exactly(n) | Jobs::More(n) = jobs {
        if n > MAX_WORKERS {
            return Err(format!("{s:?}: at most {MAX_WORKERS} workers"));
        }
    }
    if let Jobs::Percent(p) = jobs {
        if p > 100 * MAX_WORKERS {
            return Err(format!("{s:?}: at most {MAX_WORKERS} workers"));
        }
    }
    if matches!(jobs, Jobs::Exactly(0) | Jobs::Percent(0)) {
        return Err(format!(
            "{s:?}: at least 1 worker is needed (GNU parallel's -j 0, \"as many as possible\", is not supported)"
        ));
    }
    Ok(jobs)
}

fn parse_positive(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

/// `--timeout`: a duration above zero.
fn parse_timeout(s: &str) -> std::result::Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "{s:?}: a time limit of 0 would stop every task at once; leave --timeout out for no limit"
        ));
    }
    Ok(d)
}

fn parse_start_method(s: &str) -> std::result::Result<mp::StartMethod, String> {
    s.parse().map_err(|e: mp::Error| e.to_string())
}

/// Parses 1.5, 10s, 500ms, 2m, 1h.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = num.parse().map_err(|_| {
        format!("bad duration {s:?}: expected a number with an optional unit (ms, s, m, h)")
    })?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "bad duration {s:?}: unknown unit {other:?} (use ms, s, m or h)"
            ))
        }
    };
    if secs.is_nan() || secs < 0.0 {
        return Err(format!("bad duration {s:?}"));
    }
    // Longer than any run can last: no limit (deadlines saturate).
    Ok(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

/// What the pool runs: the template, one record, its number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MapTask {
    template: Arc<Template>,
    #[serde(with = "serde_bytes")]
    record: Vec<u8>,
    seq: u64,
    timeout: Option<Duration>,
    grace: Duration,
    /// Send the record back with the result (for --json).
    echo_input: bool,
    /// Run a failed command again, up to this many more times.
    retries: u32,
    /// Send the command line back with the result (for --joblog).
    want_command: bool,
}

/// A task's result as `mp map` needs it.
#[derive(Debug, Serialize, Deserialize)]
pub struct MapOutcome {
    seq: u64,
    #[serde(with = "serde_bytes")]
    input: Option<Vec<u8>>,
    #[serde(with = "serde_bytes")]
    command: Option<Vec<u8>>,
    outcome: CommandOutcome,
}

/// The pool task: expand the placeholders (the slot is known only here) and run.
fn map_task(t: MapTask) -> MapOutcome {
    let slot = mp::pool::worker_slot().map_or(1, |s| s + 1);
    let argv: Vec<OsString> = t
        .template
        .expand(&t.record, t.seq, slot)
        .into_iter()
        .map(OsString::from_vec)
        .collect();
    let mut attempt = 0;
    let outcome = loop {
        let outcome = run_task(CommandTask {
            argv: argv.clone(),
            shell: t.template.shell,
            seq: t.seq,
            timeout: t.timeout,
            grace: t.grace,
            stdin: None,
        });
        if outcome.success() || attempt >= t.retries {
            break outcome;
        }
        attempt += 1;
        // The failed attempt's output is not shown.
        outcome.stdout.discard();
        outcome.stderr.discard();
    };
    MapOutcome {
        seq: t.seq,
        input: t.echo_input.then(|| t.record.clone()),
        command: t
            .want_command
            .then(|| t.template.command_line(&t.record, t.seq, slot)),
        outcome,
    }
}

/// The progress line: a spinner on a terminal, a plain line once a second elsewhere.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    last: Instant,
    started: Instant,
}

impl Progress {
    fn new(args: &MapArgs) -> Progress {
        let stderr_tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let show = !args.no_progress && (args.progress || stderr_tty);
        // The total is unknown while records stream in: show count and rate, O(1) memory.
        let bar = (show && stderr_tty).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {pos} done, {msg}{per_sec} [{elapsed_precise}]",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            plain: show && !stderr_tty,
            last: Instant::now(),
            started: Instant::now(),
        }
    }

    fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn update(&mut self, done: u64, failed: u64, added: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(added);
            if failed > 0 {
                bar.set_message(format!("{failed} failed, "));
            }
        }
        if self.plain && self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            self.print(done, failed);
        }
    }

    fn print(&self, done: u64, failed: u64) {
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        eprintln!("mp: {done} done, {failed} failed, {rate:.1}/s");
    }

    fn finish(self, done: u64, failed: u64) {
        if self.plain {
            self.print(done, failed);
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Counts, halting and the joblog, shared by both modes.
struct Tally {
    done: u64,
    failed: u64,
    joblog: Option<Joblog>,
    halt: Option<jobs::Halt>,
    halted: bool,
    progress: Progress,
}

impl Tally {
    fn new(args: &MapArgs, joblog: Option<Joblog>) -> Tally {
        Tally {
            done: 0,
            failed: 0,
            joblog,
            halt: args.halt.and_then(|h| h.0),
            halted: false,
            progress: Progress::new(args),
        }
    }

    fn count(&mut self, ok: bool) {
        self.done += 1;
        if !ok {
            self.failed += 1;
        }
    }

    /// Whether --halt is reached now (once).
    fn halt_now(&mut self) -> Option<jobs::Halt> {
        let h = self.halt?;
        if self.halted || !h.reached(self.failed, self.done - self.failed) {
            return None;
        }
        self.halted = true;
        Some(h)
    }
}

/// Runs `mp map`; returns the exit code. Usage problems come back as
/// [`Usage`] errors (exit 2); a closed stdout ends the process here (141).
pub fn run(args: MapArgs) -> Result<i32> {
    match run_inner(args) {
        Err(e) if signals::is_broken_pipe(&e) => signals::exit(signals::BROKEN_PIPE_EXIT),
        r => {
            signals::clean_up();
            // Nothing a task started outlives mp.
            mp::command::end_orphans();
            r
        }
    }
}

fn run_inner(args: MapArgs) -> Result<i32> {
    let delim = if args.null {
        b'\0'
    } else if let Some(d) = &args.delimiter {
        let d = input::unescape(d.as_bytes());
        if d.len() != 1 {
            bail!(Usage(format!(
                "--delimiter must be a single byte (or one of \\t \\n \\r \\0 \\\\), got {:?}",
                String::from_utf8_lossy(&d)
            )));
        }
        d[0]
    } else {
        b'\n'
    };
    let colsep = match &args.colsep {
        Some(c) if c.is_empty() => bail!(Usage("--colsep cannot be empty".into())),
        Some(c) => Some(input::unescape(c.as_bytes())),
        None => None,
    };
    if args.frame != "lines" && !args.persistent {
        bail!(Usage(format!("--frame {} needs --persistent", args.frame)));
    }
    if args.persistent && colsep.is_some() {
        bail!(Usage(
            "--colsep needs per-record commands: with --persistent the command gets whole records on its stdin".into()
        ));
    }
    let records = match &args.arg_file {
        Some(path) => {
            let f = std::fs::File::open(path)
                .map_err(|e| Usage(format!("cannot read --arg-file {}: {e}", path.display())))?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
            Records::new(Box::new(f), Some(fd), delim)
        }
        None => Records::new(Box::new(std::io::stdin()), Some(0), delim),
    };
    let cpus = mp::process_cpu_count();
    let processes = args
        .processes
        .map_or(cpus, |j| j.resolve(cpus))
        .clamp(1, MAX_WORKERS);
    let done_before = match &args.joblog {
        Some(path) if args.resume || args.resume_failed => {
            DoneSet::load(path, args.resume_failed).map_err(|e| Usage(format!("{e:#}")))?
        }
        _ => DoneSet::default(),
    };
    let joblog = match &args.joblog {
        Some(path) if !args.dry_run => {
            Some(Joblog::open(path).map_err(|e| Usage(format!("{e:#}")))?)
        }
        _ => None,
    };
    if !done_before.is_empty() {
        eprintln!(
            "mp: resuming: skipping {} records the joblog shows done",
            done_before.len()
        );
    }
    if args.persistent {
        return run_persistent(&args, records, processes, done_before, joblog);
    }
    let command: Vec<Vec<u8>> = args.command.iter().map(|a| a.as_bytes().to_vec()).collect();
    let template = Arc::new(Template::new(&command, uses_shell(&args), colsep));
    let make_task = {
        let template = template.clone();
        let (timeout, grace, echo_input) = (args.timeout, args.grace, args.json);
        let (retries, want_command) = (args.retries, args.joblog.is_some());
        move |(i, record): (usize, Vec<u8>)| MapTask {
            template: template.clone(),
            record,
            seq: i as u64 + 1,
            timeout,
            grace,
            echo_input,
            retries,
            want_command,
        }
    };
    if args.dry_run {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let status = records.status.clone();
        for task in records
            .enumerate()
            .filter(|(i, _)| !done_before.contains(*i as u64 + 1))
            .map(make_task)
        {
            let slot = ((task.seq - 1) as usize % processes) + 1;
            out.write_all(&template.command_line(&task.record, task.seq, slot))?;
            out.write_all(b"\n")?;
        }
        return input_result(&status, 0);
    }

    // Signals first: from here on there is something to clean up.
    signals::install()?;
    // Tasks are ended whole, even when their worker dies: orphans come to us.
    mp::command::reap_orphans(args.grace).context("cannot watch for orphaned processes")?;
    let spill = signals::spill_dir()?;
    // One task waits ready in each busy worker's socket, so a worker starts
    // its next command without a round trip through the pool; a task that
    // waits behind one running past 10-20 ms is handed back to the pool for
    // a free worker (see PoolBuilder::prefetch). With --halt, none waits: a
    // halt then stops every task that was handed over.
    let halting = args.halt.is_some_and(|h| h.0.is_some());
    let mut builder = pool_builder(&args, processes)
        .window(processes * 4 + 4)
        .prefetch(usize::from(!halting))
        .initializer(mp::command::prepare_worker, Some(spill))
        .context("cannot set up the worker pool")?;
    if let Some(n) = args.maxtasksperchild {
        builder = builder.maxtasksperchild(n);
    }
    let pool = start_pool(builder)?;

    let stop_input = Arc::new(AtomicBool::new(false));
    // The record numbers handed to the pool, in order (to name a task that
    // failed without a result in ordered mode).
    let handed = Arc::new(Mutex::new(std::collections::VecDeque::new()));
    let status = records.status.clone();
    let tasks = {
        let (stop_input, handed) = (stop_input.clone(), handed.clone());
        let ordered = !args.unordered;
        records
            .enumerate()
            .take_while(move |_| !stop_input.load(Ordering::Relaxed))
            .filter(move |(i, _)| !done_before.contains(*i as u64 + 1))
            .map(make_task)
            .inspect(move |t| {
                if ordered {
                    lock(&handed).push_back(t.seq);
                }
            })
    };
    let chunksize = args.chunksize.unwrap_or(1);
    let results = if args.unordered {
        pool.imap_unordered_streaming(map_task, tasks, chunksize)
    } else {
        pool.imap_streaming(map_task, tasks, chunksize)
    };
    // Each worker exits as soon as nothing is left for it, while the last
    // results are still being written, not after.
    results.close_pool_when_fed();
    let mut tally = Tally::new(&args, joblog);
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let json = args.json;
    let ordered = !args.unordered;
    let handle = |r: mp::Result<MapOutcome>, tally: &mut Tally| -> Result<()> {
        let seq = match &r {
            Ok(o) => {
                if ordered {
                    lock(&handed).pop_front();
                }
                Some(o.seq)
            }
            Err(_) if ordered => lock(&handed).pop_front(),
            Err(_) => None,
        };
        let out = Out {
            stdout: &stdout,
            stderr: &stderr,
            json,
            joblog: &mut tally.joblog,
        };
        let ok = tally.progress.suspend(|| output::report(r, seq, out))?;
        tally.count(ok);
        let (d, f) = (tally.done, tally.failed);
        tally.progress.update(d, f, 1);
        Ok(())
    };
    consume(&pool, results, &mut tally, &stop_input, handle)?;
    finish_run(&pool, tally, &status)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `code`, unless reading the input failed (then 1, with the error).
fn input_result(status: &InputStatus, code: i32) -> Result<i32> {
    match status.error() {
        Some(e) => {
            eprintln!("mp map: error reading input: {e}");
            Ok(code.max(1))
        }
        None => Ok(code),
    }
}

/// The pool settings both modes share: `-j`, `--retries`, `--start-method`,
/// and workers started as the input keeps them busy (a short input starts
/// fewer than `-j`).
fn pool_builder(args: &MapArgs, processes: usize) -> mp::pool::PoolBuilder {
    mp::Pool::builder()
        .processes(processes)
        .retries(args.retries)
        .start_method(args.start_method)
        .lazy(true)
}

/// Starts the pool and hands it to the signal thread.
fn start_pool(builder: mp::pool::PoolBuilder) -> Result<Arc<mp::Pool>> {
    let pool = Arc::new(builder.build().context("cannot start the worker pool")?);
    signals::set_pool(&pool);
    Ok(pool)
}

/// How often the main thread looks up from waiting for results to check
/// for a signal.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Reads results until the end, a signal, or --halt; on a signal or
/// `--halt now`, what had finished but was held back for order is written
/// out too (out of order), so the joblog and the output agree. A write
/// error stops every task before it is returned.
fn consume<A, R, I>(
    pool: &mp::Pool,
    mut results: mp::pool::IMapIterator<'_, A, R, I>,
    tally: &mut Tally,
    stop_input: &AtomicBool,
    mut handle: impl FnMut(mp::Result<R>, &mut Tally) -> Result<()>,
) -> Result<()>
where
    A: Serialize + serde::de::DeserializeOwned,
    R: Serialize + serde::de::DeserializeOwned,
    I: Iterator<Item = A>,
{
    let keep = |r: &mp::Result<R>| {
        !matches!(
            r,
            Err(mp::Error::Task(
                mp::pool::TaskError::Cancelled | mp::pool::TaskError::Terminated
            ))
        )
    };
    let mut handle = |r: mp::Result<R>, tally: &mut Tally| -> Result<()> {
        if !keep(&r) {
            return Ok(());
        }
        handle(r, tally).inspect_err(|_| {
            // Output failed (a closed pipe, a full disk): stop every task.
            stop_input.store(true, Ordering::SeqCst);
            pool.terminate();
        })
    };
    // Set when stopping early: the result in hand, if any.
    let mut stopped: Option<Option<mp::Result<R>>> = None;
    loop {
        let next = match results.next_timeout(Some(SIGNAL_CHECK)) {
            Err(mp::Error::Timeout(_)) => {
                if signals::stopping() {
                    stopped = Some(None);
                    break;
                }
                continue;
            }
            r => r.transpose(),
        };
        if signals::stopping() {
            stopped = Some(next);
            break;
        }
        let Some(r) = next else { break };
        handle(r, tally)?;
        if let Some(h) = tally.halt_now() {
            stop_input.store(true, Ordering::SeqCst);
            results.stop_input();
            let withdrawn = pool.cancel_pending();
            tally.progress.suspend(|| {
                eprintln!(
                    "mp: --halt {}: reached after {} tasks ({} failed); {}",
                    h.describe(),
                    tally.done,
                    tally.failed,
                    if h.now {
                        "stopping the running ones".to_string()
                    } else {
                        format!("starting nothing new ({withdrawn} not started); waiting for the running ones")
                    }
                )
            });
            if h.now {
                pool.terminate();
                stopped = Some(None);
                break;
            }
        }
    }
    if let Some(first) = stopped {
        for r in first.into_iter().chain(results.drain_ready()) {
            handle(r, tally)?;
        }
    }
    Ok(())
}

fn finish_run(pool: &mp::Pool, tally: Tally, status: &InputStatus) -> Result<i32> {
    let Tally {
        done,
        failed,
        progress,
        ..
    } = tally;
    progress.finish(done, failed);
    std::io::stdout().flush()?;
    if signals::stopping() {
        // The signal thread stops the pool and exits.
        signals::drained();
    }
    // Workers exit on end of input; wait for them so nothing outlives mp.
    pool.close();
    let _ = pool.join();
    if failed > 0 {
        eprintln!("mp: {failed} of {done} tasks failed");
        return input_result(status, 1);
    }
    input_result(status, 0)
}

/// Records per block before the first results tell how fast the command is.
const FIRST_BLOCK_RECORDS: usize = 256;
/// Adaptive blocks aim at this much work each.
const BLOCK_TARGET: Duration = Duration::from_millis(20);
/// The most records in one adaptive block.
const MAX_BLOCK_RECORDS: usize = 65_536;
/// A block stops growing at this many bytes (one longer record makes its own block).
const MAX_BLOCK_BYTES: usize = 512 * 1024;

/// Reads records and frames them into blocks for persistent workers.
struct BlockReader {
    records: Records,
    frame: Frame,
    command: Arc<PersistentCommand>,
    next_seq: u64,
    /// Records per block (adapted by the consumer unless --chunksize is given).
    size: Arc<AtomicUsize>,
    done_before: DoneSet,
    stop: Arc<AtomicBool>,
    echo: bool,
    timing: bool,
    /// A record that cannot be framed, to be sent (as a failure) after the current block.
    held: Option<Block>,
    eof: bool,
}

impl BlockReader {
    /// Appends one record in the frame's form, ending with a newline.
    fn frame_record(&self, data: &mut Vec<u8>, seq: u64, record: &[u8]) {
        match self.frame {
            Frame::Lines => data.extend_from_slice(record),
            Frame::Json => output::frame_json_record(data, seq, record),
        }
        data.push(b'\n');
    }

    fn block(&self, first_seq: u64, data: Vec<u8>, reject: Option<String>) -> Block {
        Block {
            command: self.command.clone(),
            first_seq,
            data,
            reject,
            echo: self.echo,
            timing: self.timing,
        }
    }

    /// Fast path: newline records to the lines frame, nothing skipped. Copies
    /// whole runs of lines straight from the read buffer.
    fn fill_lines(&mut self, data: &mut Vec<u8>, want: usize) -> usize {
        let mut count = 0;
        while count < want && data.len() < MAX_BLOCK_BYTES {
            if count > 0 && !self.records.ready() {
                // Send what came; do not hold it for input that has not.
                break;
            }
            let buf = match self.records.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.records.fail(&e);
                    self.eof = true;
                    break;
                }
            };
            if buf.is_empty() {
                self.eof = true;
                break;
            }
            let room = MAX_BLOCK_BYTES.saturating_sub(data.len());
            let mut end = 0;
            // Fast path: all whole lines in the buffer fit.
            let whole = match memchr::memrchr(b'\n', buf) {
                Some(last) if last < room => {
                    let lines = mp::command::count_newlines(&buf[..=last]);
                    (count + lines <= want).then_some((last + 1, lines))
                }
                _ => None,
            };
            if let Some((upto, lines)) = whole {
                data.extend_from_slice(&buf[..upto]);
                self.records.reader.consume(upto);
                count += lines;
                continue;
            }
            for i in memchr::memchr_iter(b'\n', buf) {
                if count == want || (end > 0 && i + 1 > room) {
                    break;
                }
                end = i + 1;
                count += 1;
            }
            if end == 0 {
                // No whole line in the buffer: read this one record by itself.
                let Some(record) = self.records.next_bytes() else {
                    self.eof = true;
                    break;
                };
                data.extend_from_slice(&record);
                data.push(b'\n');
                count += 1;
                continue;
            }
            data.extend_from_slice(&buf[..end]);
            self.records.reader.consume(end);
        }
        // Records end at \n; a \r before it belongs to the line ending.
        if memchr::memchr(b'\r', data).is_some() {
            let mut cleaned = Vec::with_capacity(data.len());
            for line in data.split_inclusive(|&b| b == b'\n') {
                let body = line.strip_suffix(b"\n").unwrap_or(line);
                cleaned.extend_from_slice(body.strip_suffix(b"\r").unwrap_or(body));
                cleaned.push(b'\n');
            }
            *data = cleaned;
        }
        count
    }
}

impl Iterator for BlockReader {
    type Item = Block;

    fn next(&mut self) -> Option<Block> {
        if let Some(b) = self.held.take() {
            return Some(b);
        }
        if self.stop.load(Ordering::Relaxed) || self.eof {
            return None;
        }
        let want = self.size.load(Ordering::Relaxed).max(1);
        let mut data = Vec::with_capacity(MAX_BLOCK_BYTES.min(want * 16));
        let first_seq = self.next_seq;
        if self.frame == Frame::Lines && self.records.delim == b'\n' && self.done_before.is_empty()
        {
            let n = self.fill_lines(&mut data, want);
            self.next_seq += n as u64;
            return (n > 0).then(|| self.block(first_seq, data, None));
        }
        // Records the joblog shows done are read and skipped.
        while self.done_before.contains(self.next_seq) {
            if self.records.next_bytes().is_none() {
                self.eof = true;
                return None;
            }
            self.next_seq += 1;
        }
        // A block holds consecutive records: it ends before a done one.
        let first_seq = self.next_seq;
        let mut count = 0;
        while count < want
            && data.len() < MAX_BLOCK_BYTES
            && !self.done_before.contains(self.next_seq)
            && (count == 0 || self.records.ready())
        {
            let Some(record) = self.records.next_bytes() else {
                self.eof = true;
                break;
            };
            let seq = self.next_seq;
            self.next_seq += 1;
            if self.frame == Frame::Lines && memchr::memchr(b'\n', &record).is_some() {
                // It cannot be framed: it fails on its own, after this block.
                let b = self.block(seq, Vec::new(), Some(NEWLINE_IN_RECORD.to_string()));
                if count == 0 {
                    return Some(b);
                }
                self.held = Some(b);
                break;
            }
            self.frame_record(&mut data, seq, &record);
            count += 1;
        }
        (count > 0).then(|| self.block(first_seq, data, None))
    }
}

const NEWLINE_IN_RECORD: &str =
    "the record contains a newline, which the lines frame cannot carry; use --frame json";

/// `mp map --persistent`.
fn run_persistent(
    args: &MapArgs,
    records: Records,
    processes: usize,
    done_before: DoneSet,
    joblog: Option<Joblog>,
) -> Result<i32> {
    if args.command.is_empty() {
        bail!(Usage(
            "--persistent needs a COMMAND to start in each worker".into()
        ));
    }
    let template: Vec<template::ArgTemplate> = args
        .command
        .iter()
        .map(|a| template::parse_arg(a.as_bytes()))
        .collect();
    if let Some(p) = template
        .iter()
        .flatten()
        .find(|p| !matches!(p, Piece::Text(_) | Piece::Slot))
    {
        bail!(Usage(format!(
            "--persistent: COMMAND is started once per worker and gets the records on its stdin, so it can only hold the {{%}} placeholder (the worker slot), not {}",
            String::from_utf8_lossy(&p.spelling())
        )));
    }
    let frame = if args.frame == "json" {
        Frame::Json
    } else {
        Frame::Lines
    };
    // The slot is only known in the worker: {%} stays and is expanded there.
    let shell = uses_shell(args);
    let argv: Vec<Vec<u8>> = template
        .iter()
        .map(|arg| arg.iter().flat_map(|p| p.spelling()).collect())
        .collect();
    let argv = if shell { vec![argv.join(&b' ')] } else { argv };
    if args.dry_run {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for slot in 1..=processes {
            let slot = slot.to_string();
            let line: Vec<Vec<u8>> = argv
                .iter()
                .map(|a| {
                    let a = template::parse_arg(a)
                        .iter()
                        .flat_map(|p| match p {
                            Piece::Slot => slot.as_bytes().to_vec(),
                            p => p.spelling(),
                        })
                        .collect::<Vec<u8>>();
                    if shell {
                        a
                    } else {
                        template::shell_quote(&a)
                    }
                })
                .collect();
            out.write_all(&line.join(&b' '))?;
            out.write_all(b"\n")?;
        }
        return Ok(0);
    }
    let command = Arc::new(PersistentCommand {
        argv: argv.into_iter().map(OsString::from_vec).collect(),
        shell,
        frame,
        timeout: args.timeout,
        grace: args.grace,
        retries: args.retries,
        max_records: args.maxtasksperchild.map(|n| n as u64),
    });
    let fixed = args.chunksize;
    let size = Arc::new(AtomicUsize::new(fixed.unwrap_or(FIRST_BLOCK_RECORDS)));
    let stop_input = Arc::new(AtomicBool::new(false));
    let want_detail = args.json || joblog.is_some();
    let status = records.status.clone();
    let blocks = BlockReader {
        records,
        frame,
        command,
        next_seq: 1,
        size: size.clone(),
        done_before,
        stop: stop_input.clone(),
        echo: want_detail,
        timing: want_detail,
        held: None,
        eof: false,
    };
    signals::install()?;
    // Commands are ended whole, even when their worker dies.
    mp::command::reap_orphans(args.grace).context("cannot watch for orphaned processes")?;
    // One block running and one waiting per worker; the window bounds what
    // waits for its turn in ordered output.
    let pool = start_pool(
        pool_builder(args, processes)
            .window(2 * processes + 2)
            .prefetch(1),
    )?;
    let results = if args.unordered {
        pool.imap_unordered_streaming(run_block, blocks, 1)
    } else {
        pool.imap_streaming(run_block, blocks, 1)
    };
    results.close_pool_when_fed();
    let mut tally = Tally::new(args, joblog);
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let json = args.json;
    let handle = |r: mp::Result<BlockOutcome>, tally: &mut Tally| -> Result<()> {
        match r {
            Ok(b) => {
                if fixed.is_none() && b.nrecords > 0 && b.failures.is_empty() {
                    let per = b.duration.as_secs_f64() / f64::from(b.nrecords);
                    let ideal = (BLOCK_TARGET.as_secs_f64() / per.max(1e-9)) as usize;
                    let next = ((size.load(Ordering::Relaxed) + ideal.clamp(1, MAX_BLOCK_RECORDS))
                        / 2)
                    .max(1);
                    size.store(next, Ordering::Relaxed);
                }
                let (n, f) = (u64::from(b.nrecords), b.failures.len() as u64);
                let out = Out {
                    stdout: &stdout,
                    stderr: &stderr,
                    json,
                    joblog: &mut tally.joblog,
                };
                tally
                    .progress
                    .suspend(|| output::report_block(b, frame, out))?;
                tally.done += n;
                tally.failed += f;
                let (d, fl) = (tally.done, tally.failed);
                tally.progress.update(d, fl, n);
            }
            Err(e) => {
                let e = output::task_error(e);
                tally
                    .progress
                    .suspend(|| writeln!(stderr.lock(), "mp: a block of records failed: {e}"))?;
                tally.count(false);
            }
        }
        Ok(())
    };
    consume(&pool, results, &mut tally, &stop_input, handle)?;
    finish_run(&pool, tally, &status)
}

/// COMMAND runs with sh -c: asked for, or one argument with shell syntax.
fn uses_shell(args: &MapArgs) -> bool {
    args.shell || (args.command.len() == 1 && needs_shell(args.command[0].as_bytes()))
}

fn needs_shell(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c.is_ascii_whitespace() || b"|&;<>()$`\\\"'*?[~".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(args: &[&str], record: &str, colsep: Option<&str>) -> Vec<String> {
        task_bytes(args, record.as_bytes(), colsep)
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    fn task_bytes(args: &[&str], record: &[u8], colsep: Option<&str>) -> Vec<Vec<u8>> {
        let command: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let shell = command.len() == 1 && needs_shell(&command[0]);
        Template::new(&command, shell, colsep.map(|c| c.as_bytes().to_vec())).expand(record, 7, 2)
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            task(&["echo", "{}"], "a/b/c.tar.gz", None),
            ["echo", "a/b/c.tar.gz"]
        );
        assert_eq!(
            task(&["echo", "{.}"], "a/b/c.tar.gz", None),
            ["echo", "a/b/c.tar"]
        );
        assert_eq!(
            task(&["echo", "{/}"], "a/b/c.tar.gz", None),
            ["echo", "c.tar.gz"]
        );
        assert_eq!(
            task(&["echo", "{//}"], "a/b/c.tar.gz", None),
            ["echo", "a/b"]
        );
        assert_eq!(
            task(&["echo", "{/.}"], "a/b/c.tar.gz", None),
            ["echo", "c.tar"]
        );
        assert_eq!(task(&["echo", "{#}-{%}"], "x", None), ["echo", "7-2"]);
        assert_eq!(
            task(&["echo", "{2}:{1}"], "a,b", Some(",")),
            ["echo", "b:a"]
        );
        assert_eq!(
            task(&["echo", "pre{}post"], "x", None),
            ["echo", "prexpost"]
        );
        assert_eq!(task(&["echo"], "x y", None), ["echo", "x y"]);
        assert_eq!(
            task(&["echo", "{.}"], "dir.d/file", None),
            ["echo", "dir.d/file"]
        );
        assert_eq!(task(&["echo", "{.}"], ".hidden", None), ["echo", ".hidden"]);
        assert_eq!(task(&["echo", "{//}"], "file", None), ["echo", "."]);
    }

    #[test]
    fn awk_braces_are_text() {
        assert_eq!(
            task(&["awk", "{print $1}"], "x", None),
            ["awk", "{print $1}", "x"]
        );
    }

    #[test]
    fn shell_mode_quotes_values() {
        assert_eq!(
            task(&["echo {} | tr a b"], "it's", None),
            ["echo 'it'\\''s' | tr a b"]
        );
        assert_eq!(task(&["wc -c"], "f g", None), ["wc -c 'f g'"]);
        assert_eq!(task(&[], "echo hi | tr h H", None), ["echo hi | tr h H"]);
    }

    #[test]
    fn unknown_braces_stay_literal() {
        assert_eq!(
            task(&["echo", "{..}", "{0}", "${#0}", "{x}"], "r", None),
            ["echo", "{..}", "{0}", "${#0}", "{x}", "r"]
        );
        assert_eq!(task(&["sh", "-c", "echo ${#0}"], "abc", None)[3], "abc");
    }

    #[test]
    fn gnu_path_placeholders() {
        assert_eq!(task(&["echo", "{//}"], "/", None), ["echo", "/"]);
        assert_eq!(task(&["echo", "{//}"], "a//b", None), ["echo", "a"]);
        assert_eq!(task(&["echo", "{//}"], "/a", None), ["echo", "/"]);
        assert_eq!(task(&["echo", "{/}"], "dir/", None), ["echo", "dir"]);
        assert_eq!(task(&["echo", "{/}"], "/", None), ["echo", "/"]);
    }

    #[test]
    fn bytes_stay_bytes() {
        let rec = b"d\xff/x\xfe.tar.gz";
        let got = task_bytes(&["p", "{}", "{.}", "{/}", "{//}", "{/.}"], rec, None);
        let want: Vec<&[u8]> = vec![
            b"p",
            b"d\xff/x\xfe.tar.gz",
            b"d\xff/x\xfe.tar",
            b"x\xfe.tar.gz",
            b"d\xff",
            b"x\xfe.tar",
        ];
        assert_eq!(got, want);
        assert_eq!(
            task_bytes(&["echo {}"], b"caf\xe9", None),
            vec![b"echo 'caf\xe9'".to_vec()]
        );
    }

    #[test]
    fn columns_without_placeholder_are_arguments() {
        assert_eq!(
            task(&["printf", "[%s]"], "a,b", Some(",")),
            ["printf", "[%s]", "a", "b"]
        );
        assert_eq!(
            task(&["echo", "{2}"], " a , b ", Some(",")),
            ["echo", " b "]
        );
        assert_eq!(task(&["echo {1}"], "x y,z", Some(",")), ["echo 'x y'"]);
    }

    #[test]
    fn jobs_forms() {
        assert_eq!(parse_jobs("4").unwrap().resolve(8), 4);
        assert_eq!(parse_jobs("+1").unwrap().resolve(8), 9);
        assert_eq!(parse_jobs("-1").unwrap().resolve(8), 7);
        assert_eq!(parse_jobs("-9").unwrap().resolve(8), 1);
        assert_eq!(parse_jobs("50%").unwrap().resolve(8), 4);
        assert_eq!(parse_jobs("10%").unwrap().resolve(2), 1);
        assert_eq!(parse_jobs("200%").unwrap().resolve(3), 6);
        for bad in ["0", "0%", "x", "", "+", "1.5", "-x"] {
            let e = parse_jobs(bad).unwrap_err();
            assert!(!e.contains("-- -"), "{e}");
        }
    }

    #[test]
    fn huge_and_zero_durations() {
        assert_eq!(
            parse_duration("100000000000000000000").unwrap(),
            Duration::MAX
        );
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("0ms").is_err());
        for bad in ["nan", "inf", "-1", "1e3", "", ".", "1..2"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_duration_never_panics(s in ".{0,40}") {
            let _ = parse_duration(&s);
            let _ = parse_timeout(&s);
        }

        #[test]
        fn parse_duration_of_numbers(n in 0u64..1_000_000_000, unit in 0usize..4) {
            let (suffix, scale) = [("ms", 1u64), ("s", 1000), ("m", 60_000), ("h", 3_600_000)][unit];
            let d = parse_duration(&format!("{n}{suffix}")).unwrap();
            proptest::prop_assert_eq!(d, Duration::from_millis(n).saturating_mul(scale as u32));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("ten").unwrap_err().contains("bad duration"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
    }
}
