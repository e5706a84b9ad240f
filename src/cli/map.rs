//! `mp map`: fan records from stdin out over a pool of worker processes, each
//! record running a command. The engine is the library's `Pool` with
//! `mp::command::run_task` as the task function.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use mp::command::{
    run_block, run_task, Block, BlockOutcome, CommandOutcome, CommandTask, Frame, PersistentCommand,
};

use serde::{Deserialize, Serialize};

use super::jobs::{self, DoneSet, Joblog, LogLine};

/// Run a command for every input record, in parallel.
///
/// Records are lines of stdin (or of --arg-file). COMMAND's arguments may
/// hold placeholders, replaced per record as in GNU parallel:
///   {}    the record            {.}   without its extension
///   {/}   its basename          {//}  its directory
///   {/.}  basename without ext  {#}   the record number (1, 2, ...)
///   {%}   the worker slot (1..j)  {1} {2} ...  columns, with --colsep
/// Without a placeholder the record is appended as the last argument. Without
/// COMMAND each record is itself a shell command line. A COMMAND given as one
/// argument with shell syntax (pipes, redirections, spaces) runs with sh -c,
/// its placeholders shell-quoted; otherwise the command is executed directly.
///
/// Each task's stdout and stderr are written whole, never interleaved with
/// another task's, in input order unless --unordered. Tasks see MP_SEQ (the
/// record number) and MP_SLOT (the worker slot) in their environment.
///
/// With --persistent, each worker starts COMMAND once and writes records to
/// its stdin; COMMAND answers exactly one reply per record on stdout (one
/// line with --frame lines; one JSON value with --frame json, where records
/// arrive as {"seq":N,"record":"..."}). Replies are printed in input order.
/// A record without a reply (crash, --timeout) fails alone; the command is
/// restarted and the later records go on. See the README for the protocol.
///
/// Long runs: --retries N, --halt soon|now[,fail|success|done=N],
/// --joblog FILE (GNU parallel's format), --resume / --resume-failed.
///
/// Exit codes: 0 every task succeeded; 1 at least one task failed (exited
/// non-zero, was killed, timed out or could not start; the count is printed on
/// stderr); 2 usage error or unreadable input; 130 after SIGINT; 143 after
/// SIGTERM (129 after SIGHUP). On a signal, every running task's process
/// group is ended (TERM, then KILL after --grace) and no process is left.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct MapArgs {
    /// Number of worker processes [default: the CPUs this process may use].
    #[arg(short = 'j', long = "processes", value_name = "N")]
    processes: Option<usize>,
    /// Records handed to a worker at a time [default: 1; with --persistent,
    /// the records in flight per worker, adapted to the command's speed when
    /// not given].
    #[arg(long, value_name = "N")]
    chunksize: Option<usize>,
    /// Replace a worker after it has run N chunks (with --persistent: restart
    /// the command after it has been given N records).
    #[arg(long, value_name = "N")]
    maxtasksperchild: Option<usize>,
    /// Time limit per task (e.g. 500ms, 10s, 2m, 1h; a bare number is seconds).
    /// The task's whole process group is ended: TERM, --grace, KILL. With
    /// --persistent: the time limit for each reply.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
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
    /// Records are separated by this single byte (e.g. , or \t).
    #[arg(short = 'd', long = "delimiter", value_name = "DELIM")]
    delimiter: Option<String>,
    /// Read records from FILE instead of stdin.
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    arg_file: Option<PathBuf>,
    /// Split each record into columns {1}, {2}... at this string.
    #[arg(long, value_name = "SEP")]
    colsep: Option<String>,
    /// Always run COMMAND with sh -c.
    #[arg(long)]
    shell: bool,
    /// Print one JSON object per task instead of its output.
    #[arg(long)]
    json: bool,
    /// Print the commands that would run, one per line, and run nothing.
    #[arg(long)]
    dry_run: bool,
    /// How workers are started: fork, spawn or forkserver. Workers only run
    /// commands, so fork (the cheapest: no re-exec of mp) is the default here.
    #[arg(long, value_name = "METHOD", default_value = "fork", value_parser = parse_start_method)]
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
    command: Vec<String>,
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
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Piece {
    Text(String),
    Whole,
    NoExt,
    Base,
    Dir,
    BaseNoExt,
    Seq,
    Slot,
    Col(usize),
}

impl Piece {
    /// How the placeholder is written.
    fn spelling(&self) -> String {
        match self {
            Piece::Text(t) => t.clone(),
            Piece::Whole => "{}".into(),
            Piece::NoExt => "{.}".into(),
            Piece::Base => "{/}".into(),
            Piece::Dir => "{//}".into(),
            Piece::BaseNoExt => "{/.}".into(),
            Piece::Seq => "{#}".into(),
            Piece::Slot => "{%}".into(),
            Piece::Col(n) => format!("{{{n}}}"),
        }
    }
}

/// One argument of COMMAND, split into text and placeholders.
type ArgTemplate = Vec<Piece>;

fn parse_arg(arg: &str, position: usize) -> Result<ArgTemplate> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let inner = &after[..close];
        let piece = match inner {
            "" => Some(Piece::Whole),
            "." => Some(Piece::NoExt),
            "/" => Some(Piece::Base),
            "//" => Some(Piece::Dir),
            "/." => Some(Piece::BaseNoExt),
            "#" => Some(Piece::Seq),
            "%" => Some(Piece::Slot),
            s if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                let n: usize = s.parse().unwrap_or(0);
                if n == 0 {
                    bail!("unknown placeholder {{{s}}} in argument {position} ({arg:?}): columns start at {{1}}");
                }
                Some(Piece::Col(n))
            }
            s if s
                .bytes()
                .all(|b| matches!(b, b'.' | b'/' | b'#' | b'%' | b'0'..=b'9')) =>
            {
                bail!(
                    "unknown placeholder {{{s}}} in argument {position} ({arg:?}); known: {{}} {{.}} {{/}} {{//}} {{/.}} {{#}} {{%}} {{N}}"
                );
            }
            _ => None, // e.g. awk's '{print $1}': plain text
        };
        match piece {
            Some(p) => {
                text.push_str(&rest[..open]);
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(p);
                rest = &after[close + 1..];
            }
            None => {
                text.push_str(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() || out.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// What the pool runs: the template, one record, its number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MapTask {
    template: Arc<Vec<ArgTemplate>>,
    shell: bool,
    record: String,
    colsep: Option<String>,
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
    input: Option<String>,
    command: Option<String>,
    outcome: CommandOutcome,
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn strip_ext(s: &str) -> &str {
    let base_start = s.rfind('/').map_or(0, |i| i + 1);
    match s[base_start..].rfind('.') {
        Some(i) if i > 0 => &s[..base_start + i],
        _ => s,
    }
}

fn basename(s: &str) -> &str {
    let t = s.trim_end_matches('/');
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

fn dirname(s: &str) -> &str {
    let t = s.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) => "/",
        Some(i) => &t[..i],
        None => ".",
    }
}

impl MapTask {
    /// The command line as a shell would read it (for --dry-run and the joblog).
    fn command_line(&self, slot: usize) -> String {
        let argv = self.expand(slot);
        if self.shell {
            argv.join(" ")
        } else {
            argv.iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    /// The argv (or, in shell mode, the one command line) for slot `slot` (1-based).
    fn expand(&self, slot: usize) -> Vec<String> {
        if self.template.is_empty() {
            return vec![self.record.clone()];
        }
        let cols: Vec<&str> = match &self.colsep {
            Some(sep) => self.record.split(sep.as_str()).collect(),
            None => vec![self.record.as_str()],
        };
        let value = |p: &Piece| -> String {
            match p {
                Piece::Text(t) => t.clone(),
                Piece::Whole => self.record.clone(),
                Piece::NoExt => strip_ext(&self.record).to_string(),
                Piece::Base => basename(&self.record).to_string(),
                Piece::Dir => dirname(&self.record).to_string(),
                Piece::BaseNoExt => strip_ext(basename(&self.record)).to_string(),
                Piece::Seq => self.seq.to_string(),
                Piece::Slot => slot.to_string(),
                Piece::Col(n) => cols.get(n - 1).copied().unwrap_or("").to_string(),
            }
        };
        let args: Vec<String> = self
            .template
            .iter()
            .map(|arg| {
                arg.iter()
                    .map(|p| match p {
                        Piece::Text(_) => value(p),
                        _ if self.shell => shell_quote(&value(p)),
                        _ => value(p),
                    })
                    .collect()
            })
            .collect();
        if self.shell {
            vec![args.join(" ")]
        } else {
            args
        }
    }
}

/// The pool task: expand the placeholders (the slot is known only here) and run.
fn map_task(t: MapTask) -> MapOutcome {
    let slot = mp::pool::worker_slot().map_or(1, |s| s + 1);
    let argv = t.expand(slot);
    let mut attempt = 0;
    let outcome = loop {
        let outcome = run_task(CommandTask {
            argv: argv.clone(),
            shell: t.shell,
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
        command: t.want_command.then(|| t.command_line(slot)),
        outcome,
    }
}

/// Splits input into records, lazily.
struct Records {
    reader: Box<dyn BufRead>,
    delim: u8,
    error: Option<String>,
}

impl Records {
    /// The next record without its delimiter (nor a \r before a \n).
    fn next_bytes(&mut self) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        match self.reader.read_until(self.delim, &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                if buf.last() == Some(&self.delim) {
                    buf.pop();
                }
                if self.delim == b'\n' && buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                Some(buf)
            }
            Err(e) => {
                self.error = Some(e.to_string());
                None
            }
        }
    }

    /// How reading ended: 0, or 2 after printing the error.
    fn status(&self) -> i32 {
        match &self.error {
            Some(e) => {
                eprintln!("mp: error reading input: {e}");
                2
            }
            None => 0,
        }
    }
}

impl Iterator for Records {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        self.next_bytes().map(|buf| {
            String::from_utf8(buf)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        })
    }
}

static STOPPING: AtomicBool = AtomicBool::new(false);
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

#[derive(Serialize)]
struct JsonResult<'a> {
    seq: u64,
    input: &'a str,
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    error: Option<String>,
    stdout: String,
    stderr: String,
    start: f64,
    duration: f64,
    worker_pid: Option<u32>,
    pid: Option<u32>,
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

/// Runs `mp map`; returns the exit code.
pub fn run(args: MapArgs) -> Result<i32> {
    let delim = if args.null {
        b'\0'
    } else if let Some(d) = &args.delimiter {
        let d = match d.as_str() {
            "\\t" => "\t",
            "\\n" => "\n",
            "\\0" => "\0",
            other => other,
        };
        if d.len() != 1 {
            bail!("--delimiter must be a single byte, got {d:?}");
        }
        d.as_bytes()[0]
    } else {
        b'\n'
    };
    if args.frame != "lines" && !args.persistent {
        bail!("--frame {} needs --persistent", args.frame);
    }
    if args.chunksize == Some(0) {
        bail!("--chunksize must be at least 1");
    }
    let reader: Box<dyn BufRead> = match &args.arg_file {
        Some(path) => Box::new(BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(path)
                .with_context(|| format!("cannot read --arg-file {}", path.display()))?,
        )),
        None => Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())),
    };
    let mut records = Records {
        reader,
        delim,
        error: None,
    };
    let processes = args.processes.unwrap_or_else(mp::process_cpu_count).max(1);
    let done_before = match &args.joblog {
        Some(path) if args.resume || args.resume_failed => DoneSet::load(path, args.resume_failed)?,
        _ => DoneSet::default(),
    };
    let joblog = match &args.joblog {
        Some(path) if !args.dry_run => Some(Joblog::open(path)?),
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
    let (template, shell) = build_template(&args)?;
    let template = Arc::new(template);
    let make_task = {
        let template = template.clone();
        let colsep = args.colsep.clone();
        let (timeout, grace, echo_input) = (args.timeout, args.grace, args.json);
        let (retries, want_command) = (args.retries, args.joblog.is_some());
        move |(i, record): (usize, String)| MapTask {
            template: template.clone(),
            shell,
            record,
            colsep: colsep.clone(),
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
        for task in records
            .by_ref()
            .enumerate()
            .filter(|(i, _)| !done_before.contains(*i as u64 + 1))
            .map(make_task)
        {
            let slot = ((task.seq - 1) as usize % processes) + 1;
            writeln!(out, "{}", task.command_line(slot))?;
        }
        return Ok(records.status());
    }

    // One task waits ready in each busy worker's socket, so a worker starts
    // its next command without a round trip through the pool; a task that
    // waits behind one running past 10-20 ms is handed back to the pool for
    // a free worker (see PoolBuilder::prefetch). With --halt, none waits: a
    // halt then stops every task that was handed over.
    let halting = args.halt.is_some_and(|h| h.0.is_some());
    let mut builder = pool_builder(&args, processes)
        .window(processes * 4 + 4)
        .prefetch(usize::from(!halting))
        .initializer(mp::command::prepare_worker, ())
        .context("cannot set up the worker pool")?;
    if let Some(n) = args.maxtasksperchild {
        builder = builder.maxtasksperchild(n);
    }
    let pool = start_pool(builder)?;

    let stop_input = std::rc::Rc::new(std::cell::Cell::new(false));
    // The record numbers handed to the pool, in order (to name a task that
    // failed without a result in ordered mode).
    let handed = std::rc::Rc::new(std::cell::RefCell::new(std::collections::VecDeque::new()));
    let tasks = {
        let (stop_input, handed) = (stop_input.clone(), handed.clone());
        records
            .by_ref()
            .enumerate()
            .take_while(move |_| !stop_input.get())
            .filter(|(i, _)| !done_before.contains(*i as u64 + 1))
            .map(make_task)
            .inspect(move |t| handed.borrow_mut().push_back(t.seq))
    };
    let tasks = close_at_end(&pool, tasks);
    let chunksize = args.chunksize.unwrap_or(1);
    let results = if args.unordered {
        pool.imap_unordered(map_task, tasks, chunksize)
    } else {
        pool.imap(map_task, tasks, chunksize)
    };
    let mut tally = Tally::new(&args, joblog);
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let json = args.json;
    let ordered = !args.unordered;
    let handle = |r: mp::Result<MapOutcome>, tally: &mut Tally| -> Result<()> {
        let seq = match &r {
            Ok(o) => {
                if ordered {
                    handed.borrow_mut().pop_front();
                }
                Some(o.seq)
            }
            Err(_) if ordered => handed.borrow_mut().pop_front(),
            Err(_) => None,
        };
        let ok = tally
            .progress
            .suspend(|| report(r, seq, json, &mut tally.joblog, &stdout, &stderr))?;
        tally.count(ok);
        let (d, f) = (tally.done, tally.failed);
        tally.progress.update(d, f, 1);
        Ok(())
    };
    consume(&pool, results, &mut tally, &stop_input, handle)?;
    finish_run(&pool, tally, &records)
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

/// Starts the pool and the signal thread that stops it.
fn start_pool(builder: mp::pool::PoolBuilder) -> Result<Arc<mp::Pool>> {
    let pool = Arc::new(builder.build().context("cannot start the worker pool")?);
    install_signal_thread(&pool)?;
    Ok(pool)
}

/// `input`, then the pool is closed: each worker exits as soon as nothing is
/// left for it, while the last results are still being written, not after.
fn close_at_end<I: Iterator>(
    pool: &Arc<mp::Pool>,
    input: I,
) -> impl Iterator<Item = I::Item> + use<I> {
    let pool = pool.clone();
    input.chain(std::iter::from_fn(move || {
        pool.close();
        None
    }))
}

/// Installs the SIGINT/SIGTERM/SIGHUP thread: it stops the pool (every
/// running task's process group is ended), lets the main thread write out
/// what had finished, and exits 128+signal.
fn install_signal_thread(pool: &Arc<mp::Pool>) -> Result<()> {
    let signal_pool = pool.clone();
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP])
            .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("mp-map-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                STOP_SIGNAL.store(sig, Ordering::SeqCst);
                STOPPING.store(true, Ordering::SeqCst);
                // Workers end their tasks' process groups (TERM, grace, KILL), then exit.
                signal_pool.terminate();
                // The main thread now writes out finished results and exits;
                // if it is stuck (a blocked stdout), leave anyway.
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    if signals.pending().next().is_some() || Instant::now() >= deadline {
                        let _ = std::io::stdout().flush();
                        std::process::exit(128 + sig);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// Reads results until the end, a signal, or --halt; on a signal or
/// `--halt now`, what had finished but was held back for order is written
/// out too (out of order), so the joblog and the output agree.
fn consume<A, R, I>(
    pool: &mp::Pool,
    mut results: mp::pool::IMapIterator<'_, A, R, I>,
    tally: &mut Tally,
    stop_input: &std::cell::Cell<bool>,
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
    // Set when stopping early: the result in hand, if any.
    let mut stopped: Option<Option<mp::Result<R>>> = None;
    loop {
        let next = results.next();
        if STOPPING.load(Ordering::SeqCst) {
            stopped = Some(next);
            break;
        }
        let Some(r) = next else { break };
        if keep(&r) {
            handle(r, tally)?;
        }
        if let Some(h) = tally.halt_now() {
            stop_input.set(true);
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
            if keep(&r) {
                handle(r, tally)?;
            }
        }
    }
    Ok(())
}

fn finish_run(pool: &mp::Pool, tally: Tally, records: &Records) -> Result<i32> {
    let Tally {
        done,
        failed,
        progress,
        ..
    } = tally;
    progress.finish(done, failed);
    if STOPPING.load(Ordering::SeqCst) {
        let _ = std::io::stdout().flush();
        std::process::exit(128 + STOP_SIGNAL.load(Ordering::SeqCst));
    }
    // Workers exit on end of input; wait for them so nothing outlives mp.
    pool.close();
    let _ = pool.join();
    let input_status = records.status();
    if failed > 0 {
        eprintln!("mp: {failed} of {done} tasks failed");
        return Ok(1);
    }
    Ok(input_status)
}

/// Writes one task's result (and its joblog line); returns whether it succeeded.
fn report(
    result: mp::Result<MapOutcome>,
    seq: Option<u64>,
    json: bool,
    joblog: &mut Option<Joblog>,
    stdout: &std::io::Stdout,
    stderr: &std::io::Stderr,
) -> Result<bool> {
    match result {
        Ok(MapOutcome {
            seq,
            input,
            command,
            outcome: o,
        }) => {
            let ok = o.success();
            let position = seq;
            let stdout_len;
            if json {
                let out_bytes = o.stdout.into_bytes()?;
                stdout_len = out_bytes.len() as u64;
                let line = JsonResult {
                    seq,
                    input: input.as_deref().unwrap_or(""),
                    exit_code: o.exit_code,
                    signal: o.signal,
                    timed_out: o.timed_out,
                    error: o.spawn_error,
                    stdout: String::from_utf8_lossy(&out_bytes).into_owned(),
                    stderr: String::from_utf8_lossy(&o.stderr.into_bytes()?).into_owned(),
                    start: o.start,
                    duration: o.duration.as_secs_f64(),
                    worker_pid: Some(o.worker_pid),
                    pid: o.pid,
                };
                let mut out = stdout.lock();
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            } else {
                {
                    let mut out = stdout.lock();
                    stdout_len = o.stdout.write_to(&mut out)?;
                }
                let mut err = stderr.lock();
                o.stderr.write_to(&mut err)?;
                if let Some(e) = &o.spawn_error {
                    writeln!(err, "mp: task {position}: cannot run {e}")?;
                } else if o.timed_out {
                    writeln!(
                        err,
                        "mp: task {position}: timed out after {:.3}s",
                        o.duration.as_secs_f64()
                    )?;
                }
            }
            if let Some(log) = joblog {
                log.write(&LogLine {
                    seq,
                    start: o.start,
                    runtime: o.duration.as_secs_f64(),
                    send: 0,
                    receive: stdout_len,
                    exitval: o.exit_code.unwrap_or(-1),
                    signal: o.signal.unwrap_or(0),
                    command: command.as_deref().unwrap_or(""),
                })?;
            }
            Ok(ok)
        }
        Err(e) => {
            let position = seq.map_or_else(|| "?".to_string(), |p| p.to_string());
            if json {
                let line = serde_json::json!({ "seq": position, "error": e.to_string() });
                let mut out = stdout.lock();
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            } else {
                writeln!(stderr.lock(), "mp: task {position}: {e}")?;
            }
            if let (Some(log), Some(seq)) = (joblog, seq) {
                log.write(&LogLine {
                    seq,
                    start: now_epoch(),
                    runtime: 0.0,
                    send: 0,
                    receive: 0,
                    exitval: -1,
                    signal: 0,
                    command: &format!("({e})"),
                })?;
            }
            Ok(false)
        }
    }
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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
    size: std::rc::Rc<std::cell::Cell<usize>>,
    done_before: DoneSet,
    stop: std::rc::Rc<std::cell::Cell<bool>>,
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
            Frame::Json => {
                let text = String::from_utf8_lossy(record);
                let _ = serde_json::to_writer(
                    &mut *data,
                    &serde_json::json!({ "seq": seq, "record": text }),
                );
            }
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
            let buf = match self.records.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.records.error = Some(e.to_string());
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
        if self.stop.get() || self.eof {
            return None;
        }
        let want = self.size.get().max(1);
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
        bail!("--persistent needs a COMMAND to start in each worker");
    }
    let template: Vec<ArgTemplate> = args
        .command
        .iter()
        .enumerate()
        .map(|(i, a)| parse_arg(a, i + 1))
        .collect::<Result<_>>()?;
    if let Some(p) = template
        .iter()
        .flatten()
        .find(|p| !matches!(p, Piece::Text(_) | Piece::Slot))
    {
        bail!(
            "--persistent: COMMAND is started once per worker and gets the records on its stdin, so it can only hold the {{%}} placeholder (the worker slot), not {}",
            p.spelling()
        );
    }
    let frame = if args.frame == "json" {
        Frame::Json
    } else {
        Frame::Lines
    };
    // The slot is only known in the worker: {%} stays and is expanded there.
    let shell = uses_shell(args);
    let argv: Vec<String> = template
        .iter()
        .map(|arg| arg.iter().map(|p| p.spelling()).collect::<String>())
        .collect();
    let argv = if shell { vec![argv.join(" ")] } else { argv };
    if args.dry_run {
        for slot in 1..=processes {
            let slot = slot.to_string();
            let line: Vec<String> = argv
                .iter()
                .map(|a| a.replace("{%}", &slot))
                .map(|a| if shell { a } else { shell_quote(&a) })
                .collect();
            println!("{}", line.join(" "));
        }
        return Ok(0);
    }
    let command = Arc::new(PersistentCommand {
        argv,
        shell,
        frame,
        timeout: args.timeout,
        grace: args.grace,
        retries: args.retries,
        max_records: args.maxtasksperchild.map(|n| n as u64),
    });
    let fixed = args.chunksize;
    let size = std::rc::Rc::new(std::cell::Cell::new(fixed.unwrap_or(FIRST_BLOCK_RECORDS)));
    let stop_input = std::rc::Rc::new(std::cell::Cell::new(false));
    let want_detail = args.json || joblog.is_some();
    let mut blocks = BlockReader {
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
    // One block running and one waiting per worker; the window bounds what
    // waits for its turn in ordered output.
    let pool = start_pool(
        pool_builder(args, processes)
            .window(2 * processes + 2)
            .prefetch(1),
    )?;
    let input = close_at_end(&pool, blocks.by_ref());
    let results = if args.unordered {
        pool.imap_unordered(run_block, input, 1)
    } else {
        pool.imap(run_block, input, 1)
    };
    let mut tally = Tally::new(args, joblog);
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let json = args.json;
    let handle = |r: mp::Result<BlockOutcome>, tally: &mut Tally| -> Result<()> {
        match r {
            Ok(b) => {
                if fixed.is_none() && b.nrecords > 0 && b.failures.is_empty() {
                    let per = b.duration.as_secs_f64() / b.nrecords as f64;
                    let ideal = (BLOCK_TARGET.as_secs_f64() / per.max(1e-9)) as usize;
                    let next = ((size.get() + ideal.clamp(1, MAX_BLOCK_RECORDS)) / 2).max(1);
                    size.set(next);
                }
                let (n, f) = (b.nrecords as u64, b.failures.len() as u64);
                tally.progress.suspend(|| {
                    report_block(b, frame, json, &mut tally.joblog, &stdout, &stderr)
                })?;
                tally.done += n;
                tally.failed += f;
                let (d, fl) = (tally.done, tally.failed);
                tally.progress.update(d, fl, n);
            }
            Err(e) => {
                tally
                    .progress
                    .suspend(|| writeln!(stderr.lock(), "mp: a block of records failed: {e}"))?;
                tally.count(false);
            }
        }
        Ok(())
    };
    consume(&pool, results, &mut tally, &stop_input, handle)?;
    finish_run(&pool, tally, &blocks.records)
}

/// Writes a block's replies (and joblog lines); failures go to stderr.
fn report_block(
    b: BlockOutcome,
    frame: Frame,
    json: bool,
    joblog: &mut Option<Joblog>,
    stdout: &std::io::Stdout,
    stderr: &std::io::Stderr,
) -> Result<()> {
    if !json && joblog.is_none() && b.failures.is_empty() && frame == Frame::Lines {
        // The common case: the replies are the output.
        stdout.lock().write_all(&b.replies)?;
        return Ok(());
    }
    let mut replies = b.replies.split_inclusive(|&c| c == b'\n');
    let mut inputs = b
        .echo
        .as_deref()
        .map(|d| d.split_inclusive(|&c| c == b'\n'));
    let mut failures = b.failures.iter().peekable();
    let mut pid_runs = b.pids.iter().peekable();
    let mut pid = None;
    let mut out = stdout.lock();
    for i in 0..b.nrecords {
        let seq = b.first_seq + i as u64;
        while let Some(&&(from, p)) = pid_runs.peek() {
            if from > i {
                break;
            }
            pid = Some(p);
            pid_runs.next();
        }
        let input_line = inputs.as_mut().and_then(|it| it.next()).unwrap_or(b"");
        let input_line = input_line.strip_suffix(b"\n").unwrap_or(input_line);
        let record: String = match frame {
            Frame::Lines => String::from_utf8_lossy(input_line).into_owned(),
            Frame::Json => serde_json::from_slice::<serde_json::Value>(input_line)
                .ok()
                .and_then(|v| v.get("record").and_then(|r| r.as_str()).map(String::from))
                .unwrap_or_default(),
        };
        let (start, runtime) = b
            .times
            .get(i as usize)
            .map_or((b.start, 0.0), |&(s, d)| (b.start + s as f64, d as f64));
        let failure = match failures.peek() {
            Some(f) if f.index == i => failures.next(),
            _ => None,
        };
        let reply = if failure.is_none() {
            let r = replies.next().unwrap_or(b"\n");
            Some(r.strip_suffix(b"\n").unwrap_or(r))
        } else {
            None
        };
        if json {
            let reply_value = reply.map(|r| match frame {
                Frame::Lines => serde_json::Value::String(String::from_utf8_lossy(r).into_owned()),
                Frame::Json => serde_json::from_slice(r).unwrap_or(serde_json::Value::Null),
            });
            let line = serde_json::json!({
                "seq": seq,
                "input": record,
                "reply": reply_value,
                "error": failure.map(|f| f.reason.clone()),
                "exit_code": failure.and_then(|f| f.exit_code),
                "signal": failure.and_then(|f| f.signal),
                "timed_out": failure.is_some_and(|f| f.timed_out),
                "attempts": failure.map_or(1, |f| f.attempts),
                "start": start,
                "duration": runtime,
                "worker_pid": b.worker_pid,
                "pid": pid,
            });
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        } else if let Some(r) = reply {
            match frame {
                Frame::Lines => {
                    out.write_all(r)?;
                    out.write_all(b"\n")?;
                }
                Frame::Json => match serde_json::from_slice::<serde_json::Value>(r) {
                    Ok(serde_json::Value::String(text)) => {
                        out.write_all(text.as_bytes())?;
                        out.write_all(b"\n")?;
                    }
                    _ => {
                        out.write_all(r)?;
                        out.write_all(b"\n")?;
                    }
                },
            }
        }
        if let Some(f) = failure {
            let _ = out.flush();
            writeln!(stderr.lock(), "mp: record {seq}: {}", f.reason)?;
        }
        if let Some(log) = joblog {
            log.write(&LogLine {
                seq,
                start,
                runtime,
                send: input_line.len() as u64 + 1,
                receive: reply.map_or(0, |r| r.len() as u64 + 1),
                exitval: match failure {
                    None => 0,
                    Some(f) => f.exit_code.filter(|&c| c != 0).unwrap_or(-1),
                },
                signal: failure.and_then(|f| f.signal).unwrap_or(0),
                command: &record,
            })?;
        }
    }
    Ok(())
}

/// Builds the per-argument templates; returns them and whether to use a shell.
fn build_template(args: &MapArgs) -> Result<(Vec<ArgTemplate>, bool)> {
    if args.command.is_empty() {
        // Each record is itself a shell command line: an empty template.
        return Ok((Vec::new(), true));
    }
    let mut template: Vec<ArgTemplate> = args
        .command
        .iter()
        .enumerate()
        .map(|(i, a)| parse_arg(a, i + 1))
        .collect::<Result<_>>()?;
    let has_placeholder = template
        .iter()
        .flatten()
        .any(|p| !matches!(p, Piece::Text(_)));
    let shell = uses_shell(args);
    if !has_placeholder {
        if shell {
            template[0].push(Piece::Text(" ".into()));
            template[0].push(Piece::Whole);
        } else {
            template.push(vec![Piece::Whole]);
        }
    }
    Ok((template, shell))
}

/// COMMAND runs with sh -c: asked for, or one argument with shell syntax.
fn uses_shell(args: &MapArgs) -> bool {
    args.shell || (args.command.len() == 1 && needs_shell(&args.command[0]))
}

fn needs_shell(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_whitespace() || "|&;<>()$`\\\"'*?[~".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(args: &[&str], record: &str, colsep: Option<&str>) -> Vec<String> {
        let a = MapArgs {
            processes: None,
            chunksize: None,
            maxtasksperchild: None,
            timeout: None,
            grace: Duration::from_secs(1),
            unordered: false,
            null: false,
            delimiter: None,
            arg_file: None,
            colsep: colsep.map(String::from),
            shell: false,
            json: false,
            dry_run: false,
            progress: false,
            no_progress: false,
            start_method: mp::StartMethod::Forkserver,
            persistent: false,
            frame: "lines".into(),
            retries: 0,
            halt: None,
            joblog: None,
            resume: false,
            resume_failed: false,
            command: args.iter().map(|s| s.to_string()).collect(),
        };
        let (template, shell) = build_template(&a).unwrap();
        MapTask {
            template: Arc::new(template),
            shell,
            record: record.into(),
            colsep: colsep.map(String::from),
            seq: 7,
            timeout: None,
            grace: Duration::from_secs(1),
            echo_input: false,
            retries: 0,
            want_command: false,
        }
        .expand(2)
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
    fn unknown_placeholders_are_errors() {
        assert!(parse_arg("{..}", 1)
            .unwrap_err()
            .to_string()
            .contains("unknown placeholder {..}"));
        assert!(parse_arg("{0}", 2)
            .unwrap_err()
            .to_string()
            .contains("columns start at {1}"));
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
