//! `mp map`: fan records from stdin out over a pool of worker processes, each
//! record running a command. The engine is the library's `Pool` with
//! `crate::cli::command::run_task` as the task function.
//!
//! - `args`: the options, their parsers and the long help;
//! - `template`: COMMAND and its placeholders, expanded on bytes;
//! - `input`: records, split from the input as bytes;
//! - `blocks`: records framed into blocks for `--persistent` workers;
//! - `output`: results, JSON lines and joblog lines, the progress line and
//!   the tally (counts, `--halt`);
//! - this file: the two runs (a command per record, `--persistent`), which
//!   share `pool_builder` and `start_pool`;
//! - `signals`: one place that decides how a run ends early (a signal, a
//!   closed output pipe) and what is cleaned up on every way out.

mod args;
mod blocks;
mod input;
mod output;
mod remote;
mod signals;
mod sources;
mod template;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cli::command::{
    run_block, run_task, BlockOutcome, CommandOutcome, CommandTask, Frame, PersistentCommand,
};
use anyhow::{bail, Context, Result};

use serde::{Deserialize, Serialize};

use super::jobs::{DoneSet, Joblog};
use super::wire::Usage;
use args::MAX_WORKERS;
pub use args::{parse_duration, MapArgs};
use blocks::{BlockReader, FIRST_BLOCK_RECORDS};
use input::{InputStatus, Records};
use output::Out;
use output::Tally;
pub use remote::{run_worker_engine, WorkerArgs};
use template::{Piece, Template};

/// What the pool runs: the template, one record (a value per source; with
/// -n/-X/-m several records, one after the other), its number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MapTask {
    template: Arc<Template>,
    args: Vec<serde_bytes::ByteBuf>,
    seq: u64,
    timeout: Option<Duration>,
    grace: Duration,
    /// Send the record back with the result (for --json, --tag).
    echo_input: bool,
    /// Run a failed command again, up to this many more times.
    retries: u32,
    /// Send the command line back with the result (for --joblog).
    want_command: bool,
    /// `--line-buffer`: the worker writes the output line by line (with
    /// the record and a TAB before each line when `echo_input`, for --tag).
    #[serde(default)]
    line_buffer: bool,
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
    let args: Vec<Vec<u8>> = t.args.into_iter().map(|a| a.into_vec()).collect();
    let argv: Vec<OsString> = t
        .template
        .expand(&args, t.seq, slot)
        .into_iter()
        .map(OsString::from_vec)
        .collect();
    let line_buffer = t.line_buffer.then(|| {
        if t.echo_input {
            let mut tag = args.join(&b' ');
            tag.push(b'\t');
            tag
        } else {
            Vec::new()
        }
    });
    let mut attempt = 0;
    let outcome = loop {
        let outcome = run_task(CommandTask {
            argv: argv.clone(),
            shell: t.template.shell,
            seq: t.seq,
            timeout: t.timeout,
            grace: t.grace,
            stdin: None,
            line_buffer: line_buffer.clone(),
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
        input: t.echo_input.then(|| args.join(&b' ')),
        command: t
            .want_command
            .then(|| t.template.command_line(&args, t.seq, slot)),
        outcome,
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
            crate::cli::command::end_orphans();
            r
        }
    }
}

fn run_inner(mut args: MapArgs) -> Result<i32> {
    // Local workers come from the forkserver: fork it now, while mp has
    // one thread, instead of exec'ing a fresh copy of mp later (about 2 ms
    // of every run's start-up). If that cannot be done it starts as before.
    if args.start_method == mp::StartMethod::Forkserver
        && !args.dry_run
        && args.processes != Some(args::Jobs::Exactly(0))
    {
        if let Err(e) = mp::prefork_forkserver() {
            log::debug!("map: forkserver not started early: {e}");
        }
    }
    if args.line_buffer {
        line_buffer_fits(&args)?;
        // Lines go out as tasks write them: results come in any order.
        args.unordered = true;
    }
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
    let cpus = mp::process_cpu_count();
    if args.processes == Some(args::Jobs::Exactly(0)) && args.listen.is_none() {
        bail!(Usage(
            "-j 0: at least 1 worker is needed (GNU parallel's -j 0, \"as many as possible\", is not supported; with --listen, -j 0 means no local slots)".into()
        ));
    }
    let local_slots = args
        .processes
        .map_or(cpus, |j| j.resolve(cpus))
        .min(MAX_WORKERS);
    let processes = local_slots.max(1);
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
    // GNU parallel's sources: -a FILE (each a source), then `:::` lists
    // and `::::` files after COMMAND; none: stdin.
    let (command, after) = sources::split_command(&args.command);
    let mut groups: Vec<sources::Group> = args
        .arg_file
        .iter()
        .map(|p| vec![sources::Source::File(p.clone())])
        .collect();
    groups.extend(after);
    let batching = sources::Batching {
        max_records: args.max_args,
        fill: args.context || args.multi,
        workers: processes,
        uses: 1,
    };
    log::info!(
        "map: {processes} workers ({}; {cpus} CPUs usable), start method {}, {} source(s){}",
        if args.processes.is_some() {
            "from -j"
        } else {
            "the CPUs"
        },
        args.start_method.as_str(),
        groups.len().max(1),
        match (batching.max_records, batching.fill) {
            (_, true) => ", records batched to fill command lines (-X/-m)".to_string(),
            (Some(n), false) => format!(", up to {n} records per command (-n)"),
            (None, false) => String::new(),
        }
    );
    if args.persistent {
        let single = match groups.as_slice() {
            [] => Some(std::path::PathBuf::from("-")),
            [g] => match g.as_slice() {
                [sources::Source::File(p)] => Some(p.clone()),
                _ => None,
            },
            _ => None,
        };
        let Some(path) = single else {
            bail!(Usage(
                "--persistent reads its records from stdin or one -a FILE (not from ::: lists or several sources)".into()
            ));
        };
        if batching.on() || args.tag {
            bail!(Usage(
                "-n, -X, -m and --tag need a command per task: with --persistent the command gets records on its stdin".into()
            ));
        }
        let records = if path.as_os_str() == "-" {
            stdin_hint();
            Records::new(Box::new(std::io::stdin()), Some(0), delim)
        } else {
            let f = std::fs::File::open(&path)
                .map_err(|e| Usage(format!("cannot read --arg-file {}: {e}", path.display())))?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
            Records::new(Box::new(f), Some(fd), delim)
        };
        // The progress line's total: records, when the input is a regular file.
        let total = output::progress_shown(&args)
            .then(|| sources::count_records(&path, delim))
            .flatten()
            .map(|t| t.saturating_sub(done_before.len()));
        return run_persistent(&args, records, local_slots, done_before, joblog, total);
    }
    if groups.is_empty() {
        stdin_hint();
        groups.push(vec![sources::Source::File("-".into())]);
    }
    let status = InputStatus::default();
    let product = sources::Product::open(groups, delim, &status, output::progress_shown(&args))
        .map_err(Usage)?;
    // The progress line's total: tasks, when the records are known ahead.
    let total = match (product.total, batching.max_records) {
        (Some(t), None) if !batching.on() => Some(t.saturating_sub(done_before.len())),
        (Some(t), Some(n)) if !batching.fill => Some(t.div_ceil(n as u64)),
        _ => None,
    };
    let command: Vec<Vec<u8>> = command.iter().map(|a| a.as_bytes().to_vec()).collect();
    let mut template = Template::new(&command, uses_shell(&args, &command), colsep);
    template.context = args.context;
    let batching = sources::Batching {
        uses: template.uses_per_value(),
        ..batching
    };
    let template = Arc::new(template);
    let records: Box<dyn Iterator<Item = Vec<Vec<u8>>> + Send> = if batching.on() {
        Box::new(sources::Batches::new(product, batching).map(|(values, _)| values))
    } else {
        Box::new(product)
    };
    if let (Some(listen), false) = (&args.listen, args.dry_run) {
        if args.maxtasksperchild.is_some() || args.chunksize.is_some() {
            bail!(Usage(
                "--listen: --chunksize and --maxtasksperchild are not used with remote workers (they take records in batches of their own; with --persistent they are)".into()
            ));
        }
        let listen = listen.clone();
        return remote::run_listen(
            &args,
            &listen,
            remote::ListenInput {
                feed: remote::Feed::Records {
                    records,
                    done_before,
                },
                status,
                total,
            },
            local_slots,
            joblog,
            template,
        );
    }
    let make_task = {
        let template = template.clone();
        let (timeout, grace, echo_input) = (args.timeout, args.grace, args.json || args.tag);
        let (retries, want_command) = (args.retries, args.joblog.is_some());
        let line_buffer = args.line_buffer;
        move |(i, args): (usize, Vec<Vec<u8>>)| MapTask {
            template: template.clone(),
            args: args.into_iter().map(serde_bytes::ByteBuf::from).collect(),
            seq: i as u64 + 1,
            timeout,
            grace,
            echo_input,
            retries,
            want_command,
            line_buffer,
        }
    };
    if args.dry_run {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for task in records
            .enumerate()
            .filter(|(i, _)| !done_before.contains(*i as u64 + 1))
            .map(make_task)
        {
            let slot = ((task.seq - 1) as usize % processes) + 1;
            let args: Vec<Vec<u8>> = task.args.into_iter().map(|a| a.into_vec()).collect();
            out.write_all(&template.command_line(&args, task.seq, slot))?;
            out.write_all(b"\n")?;
        }
        return input_result(&status, 0);
    }

    // Signals first: from here on there is something to clean up.
    signals::install()?;
    // Tasks are ended whole, even when their worker dies: orphans come to us.
    let spill = signals::spill_dir()?;
    crate::cli::command::reap_orphans(args.grace, Some(&spill))
        .context("cannot watch for orphaned processes")?;
    // One task waits ready in each busy worker's socket, so a worker starts
    // its next command without a round trip through the pool; a task that
    // waits behind one running past 10-20 ms is handed back to the pool for
    // a free worker (see PoolBuilder::prefetch). With --halt, none waits: a
    // halt then stops every task that was handed over.
    let halting = args.halt.is_some_and(|h| h.0.is_some());
    let mut builder = pool_builder(&args, processes)?
        .window(processes * 4 + 4)
        .prefetch(usize::from(!halting))
        .initializer(
            crate::cli::command::prepare_worker,
            crate::cli::command::WorkerSetup::new(Some(spill)),
        )
        .context("cannot set up the worker pool")?;
    if let Some(n) = args.maxtasksperchild {
        builder = builder.maxtasksperchild(n);
    }
    let pool = start_pool(builder)?;

    let stop_input = Arc::new(AtomicBool::new(false));
    // The record numbers handed to the pool, in order (to name a task that
    // failed without a result in ordered mode).
    let handed = Arc::new(Mutex::new(std::collections::VecDeque::new()));
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
    let mut tally = Tally::new(&args, joblog, total);
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let (json, tag) = (args.json, args.tag);
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
            tag,
            joblog: &mut tally.joblog,
            host: ":",
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

/// Refuses what `--line-buffer` cannot go with, naming why.
fn line_buffer_fits(args: &MapArgs) -> Result<()> {
    let clash = if args.keep_order {
        Some("-k/--keep-order: lines are printed as tasks write them, not in input order")
    } else if args.json {
        Some("--json: a task's output is one JSON object, written when it is done")
    } else if args.persistent {
        Some("--persistent: a persistent command's replies are framed per record")
    } else if args.listen.is_some() {
        Some("--listen: remote workers send a task's output back when it is done")
    } else {
        None
    };
    match clash {
        Some(why) => bail!(Usage(format!("--line-buffer cannot be used with {why}"))),
        None => Ok(()),
    }
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
fn pool_builder(args: &MapArgs, processes: usize) -> Result<mp::pool::PoolBuilder> {
    mp::Pool::builder()
        .processes(processes)
        .retries(args.retries)
        .start_method(args.start_method)
        .lazy(true)
        // A persistent command ends with its worker.
        .finalizer(crate::cli::command::finish_worker, ())
        .context("cannot set up the worker pool")
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

pub(super) const NEWLINE_IN_RECORD: &str =
    "the record contains a newline, which the lines frame cannot carry; use --frame json";

/// `mp map --persistent` (with `--listen`: blocks served to remote workers
/// too, `local_slots` of them run here).
fn run_persistent(
    args: &MapArgs,
    records: Records,
    local_slots: usize,
    done_before: DoneSet,
    joblog: Option<Joblog>,
    total: Option<u64>,
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
    let command: Vec<Vec<u8>> = args.command.iter().map(|a| a.as_bytes().to_vec()).collect();
    let shell = uses_shell(args, &command);
    // What remote workers are told the COMMAND is (they run `argv` below).
    let told = Arc::new(Template::new(&command, shell, None));
    let argv: Vec<Vec<u8>> = template
        .iter()
        .map(|arg| arg.iter().flat_map(|p| p.spelling()).collect())
        .collect();
    let argv = if shell { vec![argv.join(&b' ')] } else { argv };
    let processes = local_slots.max(1);
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
    if let Some(listen) = &args.listen {
        return remote::run_listen(
            args,
            listen,
            remote::ListenInput {
                feed: remote::Feed::Blocks {
                    reader: blocks,
                    adaptive: fixed.is_none(),
                },
                status,
                total,
            },
            local_slots,
            joblog,
            told,
        );
    }
    signals::install()?;
    // Commands are ended whole, even when their worker dies.
    crate::cli::command::reap_orphans(args.grace, None)
        .context("cannot watch for orphaned processes")?;
    // One block running and one waiting per worker; the window bounds what
    // waits for its turn in ordered output.
    // The workers record their commands for the sentinel, as above (the
    // commands also have a watchdog each).
    let pool = start_pool(
        pool_builder(args, processes)?
            .window(2 * processes + 2)
            .prefetch(1)
            .initializer(
                crate::cli::command::prepare_worker,
                crate::cli::command::WorkerSetup::new(None),
            )
            .context("cannot set up the worker pool")?,
    )?;
    let results = if args.unordered {
        pool.imap_unordered_streaming(run_block, blocks, 1)
    } else {
        pool.imap_streaming(run_block, blocks, 1)
    };
    results.close_pool_when_fed();
    let mut tally = Tally::new(args, joblog, total);
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let json = args.json;
    let handle = |r: mp::Result<BlockOutcome>, tally: &mut Tally| -> Result<()> {
        match r {
            Ok(b) => {
                if fixed.is_none() {
                    blocks::adapt(&size, &b);
                }
                let (n, f) = (u64::from(b.nrecords), b.failures.len() as u64);
                let out = Out {
                    stdout: &stdout,
                    stderr: &stderr,
                    json,
                    tag: false,
                    joblog: &mut tally.joblog,
                    host: ":",
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
fn uses_shell(args: &MapArgs, command: &[Vec<u8>]) -> bool {
    args.shell || (command.len() == 1 && needs_shell(&command[0]))
}

/// Reading records from a terminal: say so, as GNU parallel does, rather
/// than wait in silence.
fn stdin_hint() {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!(
            "mp map: reading records from the terminal, one per line; end with Ctrl-D \
             (records usually come from a pipe, -a FILE, or ::: a b c after COMMAND)"
        );
    }
}

fn needs_shell(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c.is_ascii_whitespace() || b"|&;<>()$`\\\"'*?[~".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::args::*;
    use super::*;
    use args::Jobs;

    fn task(args: &[&str], record: &str, colsep: Option<&str>) -> Vec<String> {
        task_bytes(args, record.as_bytes(), colsep)
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    fn task_bytes(args: &[&str], record: &[u8], colsep: Option<&str>) -> Vec<Vec<u8>> {
        let command: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let shell = command.len() == 1 && needs_shell(&command[0]);
        Template::new(&command, shell, colsep.map(|c| c.as_bytes().to_vec())).expand(
            &[record.to_vec()],
            7,
            2,
        )
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

    fn batch(args: &[&str], values: &[&str], shell: bool, context: bool) -> Vec<String> {
        let command: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let mut t = Template::new(&command, shell, None);
        t.context = context;
        let values: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        t.expand(&values, 3, 1)
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    #[test]
    fn several_values_split_or_repeat_the_word() {
        // {} takes every value as a word of its own; text joins the ends.
        assert_eq!(
            batch(&["echo", "pre{}post"], &["a", "b", "c"], false, false),
            ["echo", "prea", "b", "cpost"]
        );
        // -X: the word is repeated for each value.
        assert_eq!(
            batch(&["echo", "pre{}post", "{#}"], &["a", "b"], false, true),
            ["echo", "preapost", "prebpost", "3"]
        );
        // Shell mode: values quoted; -X repeats the blank-separated word only.
        assert_eq!(
            batch(&["cat {.}.txt | wc -l"], &["x y.c", "z"], true, true),
            ["cat 'x y'.txt z.txt | wc -l"]
        );
        assert_eq!(
            batch(&["echo {} end"], &["it's", "b"], true, false),
            ["echo 'it'\\''s' b end"]
        );
        // Positional values; a word that is only a missing one is left out.
        assert_eq!(
            batch(
                &["echo", "{2}", "x{3}y", "{3}", "{1}"],
                &["a", "b"],
                false,
                false
            ),
            ["echo", "b", "xy", "a"]
        );
        // No placeholder: every value goes last.
        assert_eq!(
            batch(&["rm", "-f"], &["a", "b c"], false, false),
            ["rm", "-f", "a", "b c"]
        );
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
        // -j 0 parses: it means no local slots with --listen, and is refused without.
        assert_eq!(parse_jobs("0").unwrap(), Jobs::Exactly(0));
        for bad in ["0%", "x", "", "+", "1.5", "-x"] {
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
