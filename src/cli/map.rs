//! `mp map`: fan records from stdin out over a pool of worker processes, each
//! record running a command. The engine is the library's `Pool` with
//! `mp::command::run_task` as the task function.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use mp::command::{run_task, CommandOutcome, CommandTask};

use serde::{Deserialize, Serialize};

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
    /// Records handed to a worker at a time.
    #[arg(long, value_name = "N", default_value_t = 1)]
    chunksize: usize,
    /// Replace a worker after it has run N chunks.
    #[arg(long, value_name = "N")]
    maxtasksperchild: Option<usize>,
    /// Time limit per task (e.g. 500ms, 10s, 2m, 1h; a bare number is seconds).
    /// The task's whole process group is ended: TERM, --grace, KILL.
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
}

/// A task's result as `mp map` needs it.
#[derive(Debug, Serialize, Deserialize)]
pub struct MapOutcome {
    seq: u64,
    input: Option<String>,
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
    let outcome = run_task(CommandTask {
        argv,
        shell: t.shell,
        seq: t.seq,
        timeout: t.timeout,
        grace: t.grace,
        stdin: None,
    });
    MapOutcome {
        seq: t.seq,
        input: t.echo_input.then_some(t.record),
        outcome,
    }
}

/// Splits input into records, lazily.
struct Records {
    reader: Box<dyn BufRead>,
    delim: u8,
    error: Option<String>,
}

impl Iterator for Records {
    type Item = String;
    fn next(&mut self) -> Option<String> {
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
                Some(
                    String::from_utf8(buf)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                )
            }
            Err(e) => {
                self.error = Some(e.to_string());
                None
            }
        }
    }
}

static STOPPING: AtomicBool = AtomicBool::new(false);

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
    let reader: Box<dyn BufRead> = match &args.arg_file {
        Some(path) => Box::new(BufReader::new(
            std::fs::File::open(path)
                .with_context(|| format!("cannot read --arg-file {}", path.display()))?,
        )),
        None => Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())),
    };
    let (template, shell) = build_template(&args)?;
    let template = Arc::new(template);
    let mut records = Records {
        reader,
        delim,
        error: None,
    };
    let processes = args.processes.unwrap_or_else(mp::process_cpu_count).max(1);
    let make_task = {
        let template = template.clone();
        let colsep = args.colsep.clone();
        let (timeout, grace, echo_input) = (args.timeout, args.grace, args.json);
        move |(i, record): (usize, String)| MapTask {
            template: template.clone(),
            shell,
            record,
            colsep: colsep.clone(),
            seq: i as u64 + 1,
            timeout,
            grace,
            echo_input,
        }
    };
    if args.dry_run {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for task in records.by_ref().enumerate().map(make_task) {
            let slot = ((task.seq - 1) as usize % processes) + 1;
            let argv = task.expand(slot);
            let line = if shell {
                argv.join(" ")
            } else {
                argv.iter()
                    .map(|a| shell_quote(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            writeln!(out, "{line}")?;
        }
        return finish_input(&records);
    }

    // Commands take milliseconds: hand a task only to a free worker, so none
    // waits behind a slow one (GNU parallel's job slots behave the same way).
    let mut builder = mp::Pool::builder()
        .processes(processes)
        .window(processes * 4 + 4)
        .prefetch(0)
        .start_method(args.start_method);
    if let Some(n) = args.maxtasksperchild {
        builder = builder.maxtasksperchild(n);
    }
    let pool = Arc::new(builder.build().context("cannot start the worker pool")?);
    let signal_pool = pool.clone();
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP])
            .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("mp-map-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                STOPPING.store(true, Ordering::SeqCst);
                // Workers end their tasks' process groups (TERM, grace, KILL), then exit.
                signal_pool.terminate();
                let _ = std::io::stdout().flush();
                std::process::exit(128 + sig);
            }
        })
        .context("cannot start the signal thread")?;

    let tasks = records.by_ref().enumerate().map(make_task);
    let chunksize = args.chunksize.max(1);
    let results: Box<dyn Iterator<Item = mp::Result<MapOutcome>>> = if args.unordered {
        Box::new(pool.imap_unordered(map_task, tasks, chunksize))
    } else {
        Box::new(pool.imap(map_task, tasks, chunksize))
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let stderr_tty = std::io::IsTerminal::is_terminal(&stderr);
    let show_progress = !args.no_progress && (args.progress || stderr_tty);
    // indicatif draws only on a terminal; asked for --progress elsewhere (a
    // log file), print a plain line at most once a second instead.
    let plain_progress = show_progress && !stderr_tty;
    let mut last_plain = std::time::Instant::now();
    let started = last_plain;
    // The total is unknown while records stream in: show count and rate, O(1) memory.
    let bar = if show_progress && stderr_tty {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} done, {msg}{per_sec} [{elapsed_precise}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Some(bar)
    } else {
        None
    };
    let (mut total, mut failed) = (0u64, 0u64);
    for (n, result) in results.enumerate() {
        if STOPPING.load(Ordering::SeqCst) {
            break;
        }
        total += 1;
        let position = (!args.unordered).then_some(n as u64 + 1);
        let ok = match &bar {
            Some(bar) => bar.suspend(|| report(result, position, args.json, &stdout, &stderr))?,
            None => report(result, position, args.json, &stdout, &stderr)?,
        };
        if !ok {
            failed += 1;
        }
        if let Some(bar) = &bar {
            bar.inc(1);
            if failed > 0 {
                bar.set_message(format!("{failed} failed, "));
            }
        }
        if plain_progress && last_plain.elapsed() >= Duration::from_secs(1) {
            last_plain = std::time::Instant::now();
            let rate = total as f64 / started.elapsed().as_secs_f64();
            eprintln!("mp: {total} done, {failed} failed, {rate:.1}/s");
        }
    }
    if plain_progress {
        let rate = total as f64 / started.elapsed().as_secs_f64().max(1e-9);
        eprintln!("mp: {total} done, {failed} failed, {rate:.1}/s");
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if STOPPING.load(Ordering::SeqCst) {
        // The signal thread is ending the run and the process.
        loop {
            std::thread::park();
        }
    }
    // Workers exit on end of input; wait for them so nothing outlives mp.
    pool.close();
    let _ = pool.join();
    let input_status = finish_input(&records)?;
    if failed > 0 {
        eprintln!("mp: {failed} of {total} tasks failed");
        return Ok(1);
    }
    Ok(input_status)
}

fn finish_input(records: &Records) -> Result<i32> {
    if let Some(e) = &records.error {
        eprintln!("mp: error reading input: {e}");
        return Ok(2);
    }
    Ok(0)
}

/// Writes one task's result; returns whether it succeeded.
fn report(
    result: mp::Result<MapOutcome>,
    position: Option<u64>,
    json: bool,
    stdout: &std::io::Stdout,
    stderr: &std::io::Stderr,
) -> Result<bool> {
    match result {
        Ok(MapOutcome {
            seq,
            input,
            outcome: o,
        }) => {
            let ok = o.success();
            let position = seq;
            if json {
                let line = JsonResult {
                    seq,
                    input: input.as_deref().unwrap_or(""),
                    exit_code: o.exit_code,
                    signal: o.signal,
                    timed_out: o.timed_out,
                    error: o.spawn_error.clone(),
                    stdout: String::from_utf8_lossy(&o.stdout.clone().into_bytes()?).into_owned(),
                    stderr: String::from_utf8_lossy(&o.stderr.clone().into_bytes()?).into_owned(),
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
                    o.stdout.write_to(&mut out)?;
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
            Ok(ok)
        }
        Err(e) => {
            let position = position.map_or_else(|| "?".to_string(), |p| p.to_string());
            if json {
                let line = serde_json::json!({ "seq": position, "error": e.to_string() });
                let mut out = stdout.lock();
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            } else {
                writeln!(stderr.lock(), "mp: task {position}: {e}")?;
            }
            Ok(false)
        }
    }
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
    let shell = args.shell || (args.command.len() == 1 && needs_shell(&args.command[0]));
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
            chunksize: 1,
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
