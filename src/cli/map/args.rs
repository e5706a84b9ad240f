//! `mp map`'s command line: the options, their parsers and the long help.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::super::jobs;

/// What `mp map -h` shows after the options.
const MAP_SHORT: &str = "Records: lines of stdin, of -a FILE, or ::: a b c after COMMAND.
Placeholders: {} {.} {/} {//} {/.} {#} {%} {1} {2}...
  ls *.txt | mp map gzip -k {}        mp map convert {} {.}.png ::: *.jpg
See mp map --help for the placeholder table, worked examples, GNU parallel's
input forms and how mp differs from it; exit codes: 0 ok, 1 a task failed,
2 usage, 141 closed stdout, 130/143/129 signals.";

/// The long help of `mp map` (shown after the options, with --help).
const MAP_AFTER: &str = r#"RECORDS
  Records are lines of stdin (-0: NUL-separated, -d C: another byte), or come
  from sources written after COMMAND, as in GNU parallel:
    ::: a b c        a list                 :::: FILE...   lines of files (- is stdin)
    -a FILE          a file (may repeat)    :::+ / ::::+   linked to the source before
  Several sources give every combination, the last varying fastest:
    mp map echo {1}-{2} ::: a b ::: 1 2     prints a-1 a-2 b-1 b-2
    mp map echo {1}-{2} ::: a b :::+ 1 2    prints a-1 b-2 (linked: pairs)
  Reading records from a terminal (no pipe, no source) prints a hint first.

PLACEHOLDERS (GNU parallel's meanings), for the record a/b/c.tar.gz:
  {}     the record                 a/b/c.tar.gz
  {.}    without its extension      a/b/c.tar
  {/}    its basename               c.tar.gz
  {//}   its directory              a/b
  {/.}   basename without extension c.tar
  {#}    the task number (1, 2...)  7          (also $MP_SEQ, $PARALLEL_SEQ)
  {%}    the worker slot (1..j)     2          (also $MP_SLOT, $PARALLEL_JOBSLOT)
  {1} {2}  the value of source 1, 2, or column 1, 2 with --colsep
           (for the record "x,y" and --colsep ,: {1} is x, {2} is y)
  Without a placeholder the record (its values, its columns) goes last.
  Other braces stay as written (awk's '{print $1}', the shell's ${#0}).
  A COMMAND given as one argument with shell syntax (pipes, redirections,
  spaces) runs with sh -c, its placeholders shell-quoted; otherwise it is
  executed directly.

SEVERAL RECORDS PER COMMAND
  -n N   up to N records per command: {} is all of them (separate words),
         {1} {2} each one.   mp map -n 2 echo {2} {1} ::: a b c d  ->  b a / d c
  -X     as many as fit in a command line, a word holding {} repeated for
         each record:        mp map -X echo pre{}post ::: a b  ->  preapost prebpost
  -m     as -X, {} in place: mp map -m echo pre{}post ::: a b  ->  prea bpost
  With -X and -m the last records are spread evenly over the workers.

OUTPUT
  Each task's stdout and stderr are written whole, never interleaved with
  another task's, in input order (-k, the default) or, with --unordered, as
  tasks finish. --tag starts each line with the record and a TAB. Tasks see
  MP_SEQ / PARALLEL_SEQ and MP_SLOT / PARALLEL_JOBSLOT in their environment.

  With --persistent, each worker starts COMMAND once and writes records to
  its stdin; COMMAND answers exactly one reply per record on stdout (one line
  with --frame lines; one JSON value with --frame json, where records arrive
  as {"seq":N,"record":"..."}). Replies are printed in input order. A record
  without a reply (crash, --timeout) fails alone; the command is restarted.

WORKED EXAMPLES
  1. Compress every log file, names with spaces or newlines included:
       find . -name '*.log' -print0 | mp map -0 gzip -9
     (-0 splits records at NUL bytes, as find -print0 writes them.)
     Many small files? Batch them, as xargs -n does:
       find . -name '*.tmp' -print0 | mp map -0 -n 500 rm --

  2. A CSV file: one command per row, columns by number:
       mp map -a prices.csv --colsep , -- printf '%s costs %s\n' {1} {2}

  3. A Python worker that starts once and answers one line per record:
       # upper.py
       import sys
       for line in sys.stdin:
           print(line.strip().upper(), flush=True)
       seq 1000 | mp map --persistent python3 upper.py

  4. A long run you may interrupt with Ctrl-C, then take up where it stopped:
       mp map --joblog jobs.log -a urls.txt curl -sO {}
       ^C   (running tasks are ended; jobs.log holds every task that finished)
       mp map --joblog jobs.log --resume -a urls.txt curl -sO {}
     (--resume skips what jobs.log shows done; --resume-failed also runs the
     failed ones again. The input must be the same, in the same order.)

  5. One JSON object per task, for jq: which archives are damaged?
       ls *.gz | mp map --json gzip -t | jq -r 'select(.exit_code != 0) | .input'
     (fields: seq input exit_code signal timed_out error stdout stderr start
     duration worker_pid pid; bytes that are not UTF-8 also come exactly in
     *_b64 fields.)

Examples:
  find . -name '*.log' -print0 | mp map -0 gzip
  seq 100 | mp map -j 50% -- sh -c 'echo $(( {} * {} ))'
  cut -f1,3 data.tsv | mp map --colsep '\t' echo {2} {1}
  ls *.csv | mp map --timeout 1m sort -o {.}.sorted {}
  mp map --joblog jobs.log --resume -a files.txt gzip -k

DIFFERENCES FROM GNU PARALLEL
  - Output is in input order by default (GNU's -k); --unordered for
    completion order (GNU's default).
  - Exit status 1 when any task failed, with "mp: K of N tasks failed" (GNU:
    the number of failures, up to 101).
  - -j 0 is refused; the default is the CPUs this process may use.
  - --colsep is a literal string, not a regular expression; no trimming.
  - Background processes a task leaves are ended when its command exits.
  - --line-buffer prints lines as tasks write them, so it takes the place
    of the output order (-k with it is refused).
  - Not there: --pipe (use --persistent), --sshlogin, --results, {= perl =} and combined forms like {2.}.

Long runs: --retries N, --halt soon|now[,fail|success|done=N],
--joblog FILE (GNU parallel's format), --resume / --resume-failed.
A task is over when its command exits; background processes it leaves
behind are ended (TERM, then KILL after --grace). Records and arguments are
bytes: a file name that is not UTF-8 reaches the command exactly.

EXIT CODES
  0 every task succeeded; 1 at least one task failed (exited non-zero, was
  killed, timed out or could not start; the count is printed on stderr), or
  reading input or writing output failed; 2 usage error (a bad option, an
  --arg-file that cannot be opened); 141 stdout was closed (as in `| head`:
  mp stops quietly, like a program killed by SIGPIPE); 130 after SIGINT; 143
  after SIGTERM; 129 after SIGHUP. On a signal or a closed stdout, every
  running task's process group is ended (TERM, then KILL after --grace) and
  no process is left. Should mp itself be killed outright (SIGKILL, the OOM
  killer), its sentinel process (mp-sentinel) kills the process groups of
  the running tasks."#;

/// Arguments of `mp map`.
#[derive(Debug, Args)]
#[command(after_help = MAP_SHORT, after_long_help = MAP_AFTER)]
pub struct MapArgs {
    /// Number of worker processes: N, or relative to the CPUs this process
    /// may use: +N (CPUs + N), -N (CPUs - N, at least 1), N% (N percent of
    /// the CPUs, at least 1) [default: the CPUs].
    #[arg(short = 'j', long = "processes", value_name = "N", allow_hyphen_values = true, value_parser = parse_jobs)]
    pub(super) processes: Option<Jobs>,
    /// Records handed to a worker at a time [default: 1; with --persistent,
    /// the records in flight per worker, adapted to the command's speed when
    /// not given].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub(super) chunksize: Option<usize>,
    /// Replace a worker after it has run N chunks (with --persistent: restart
    /// the command after it has been given N records).
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub(super) maxtasksperchild: Option<usize>,
    /// Time limit per task (e.g. 500ms, 10s, 2m, 1h; a bare number is
    /// seconds; more than a lifetime means no limit; 0 is refused).
    /// The task's whole process group is ended: TERM, --grace, KILL. With
    /// --persistent: the time limit for each reply.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub(super) timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when a task is stopped.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    pub(super) grace: Duration,
    /// Write results in completion order instead of input order.
    #[arg(long, overrides_with = "keep_order")]
    pub(super) unordered: bool,
    /// Records are separated by NUL bytes (as from find -print0).
    #[arg(short = '0', long = "null", conflicts_with = "delimiter")]
    pub(super) null: bool,
    /// Records are separated by this single byte (e.g. , or \t; the escapes
    /// \t \n \r \0 \\ are understood).
    #[arg(short = 'd', long = "delimiter", value_name = "DELIM")]
    pub(super) delimiter: Option<OsString>,
    /// Read records from FILE instead of stdin (`-` is stdin). Given more
    /// than once, each file is a source of its own: {1} from the first, {2}
    /// from the second, every combination (as `:::: FILE FILE`).
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    pub(super) arg_file: Vec<PathBuf>,
    /// Up to N records per command (as xargs -n): {} stands for all of
    /// them, {1} {2}... for each; without a placeholder they go last.
    #[arg(short = 'n', long = "max-args", value_name = "N", value_parser = parse_positive)]
    pub(super) max_args: Option<usize>,
    /// As many records per command as fit in a command line, a word
    /// holding {} repeated for each (context replace: `-X gzip -k {}`,
    /// `-X cp {} dir/`); the last ones are spread over the workers.
    #[arg(short = 'X', conflicts_with = "multi")]
    pub(super) context: bool,
    /// As -X, but {} becomes all the records as separate words in its place
    /// (text around it joins the first and the last).
    #[arg(short = 'm')]
    pub(super) multi: bool,
    /// Prefix each line of a task's output (stdout and stderr) with its
    /// record (values joined by spaces) and a TAB.
    #[arg(long)]
    pub(super) tag: bool,
    /// Print each complete line of a task's output (stdout, stderr) as soon
    /// as the task writes it, instead of a task's whole output once it is
    /// done: lines of different tasks interleave, never mix within a line;
    /// the order of tasks is not kept. With --tag, each line starts with
    /// the record. Output of an attempt that --retries runs again is shown.
    #[arg(long)]
    pub(super) line_buffer: bool,
    /// Keep output in input order: the default (GNU parallel's -k), accepted
    /// for its users; --unordered turns it off.
    #[arg(short = 'k', long = "keep-order", overrides_with = "unordered")]
    pub(super) keep_order: bool,
    /// Split each record into columns {1}, {2}... at this string (the same
    /// escapes as -d; columns are not trimmed). Without a placeholder in
    /// COMMAND, the columns are its last arguments.
    #[arg(long, value_name = "SEP")]
    pub(super) colsep: Option<OsString>,
    /// Always run COMMAND with sh -c.
    #[arg(long)]
    pub(super) shell: bool,
    /// Print one JSON object per task instead of its output.
    #[arg(long)]
    pub(super) json: bool,
    /// Print the commands that would run, one per line, and run nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// How workers are started: forkserver (a single-threaded copy of mp,
    /// started once, forks each worker), spawn (each worker runs mp again) or
    /// fork (forks mp itself, whose signal, reaper and pool threads run by
    /// then: a worker may inherit a lock one of them held, as with
    /// Python's fork).
    #[arg(long, value_name = "METHOD", default_value = "forkserver", value_parser = parse_start_method)]
    pub(super) start_method: mp::StartMethod,
    /// Show a progress line on stderr: tasks done (of the total, with a rate
    /// and an ETA, when the total is known: -a FILE, ::: lists, a regular
    /// file on stdin) [default: on when stderr is a terminal]. --bar and
    /// --eta (GNU parallel's) are the same.
    #[arg(long, visible_aliases = ["bar", "eta"], overrides_with = "no_progress")]
    pub(super) progress: bool,
    /// Never show the progress line.
    #[arg(long)]
    pub(super) no_progress: bool,
    /// Start COMMAND once per worker and feed it records on its stdin; it
    /// answers one reply per record on stdout (see --frame).
    #[arg(long)]
    pub(super) persistent: bool,
    /// With --persistent: `lines` (a record is one line in, its reply one line
    /// out) or `json` (a record goes in as {"seq":N,"record":"..."} on one
    /// line, the reply is one JSON value; a string reply may hold newlines).
    #[arg(long, value_name = "FRAME", default_value = "lines", value_parser = ["lines", "json"])]
    pub(super) frame: String,
    /// Run a failed task (or record) again, up to N more times.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(super) retries: u32,
    /// When to stop early: never (default); soon (after the first failure,
    /// start nothing new, let running tasks finish); now (after the first
    /// failure, kill running tasks); or soon|now,fail|success|done=N.
    #[arg(long, value_name = "WHEN", value_parser = jobs::parse_halt_arg)]
    pub(super) halt: Option<jobs::HaltArg>,
    /// Append one line per finished task to FILE (GNU parallel's format:
    /// Seq Host Starttime JobRuntime Send Receive Exitval Signal Command).
    #[arg(long, value_name = "FILE")]
    pub(super) joblog: Option<PathBuf>,
    /// Skip the records that --joblog FILE shows done (same input, same order).
    #[arg(long, requires = "joblog")]
    pub(super) resume: bool,
    /// Like --resume, but also run again the records whose last run failed.
    #[arg(long, requires = "joblog", conflicts_with = "resume")]
    pub(super) resume_failed: bool,
    /// Serve the records to remote `mp worker --connect ADDR` processes too
    /// (HOST:PORT, port 0 picks one; or a Unix socket path): the address
    /// is printed on stderr. Needs an authkey (--authkey-file or
    /// $MP_AUTHKEY) unless ADDR is loopback or a Unix socket. -j counts
    /// the local slots (-j 0: none). With --persistent, every slot keeps
    /// COMMAND running and takes blocks of records, as locally. See
    /// "Remote workers" in the README.
    #[arg(long, value_name = "ADDR")]
    pub(super) listen: Option<String>,
    /// With --listen: read the authentication key from FILE (else
    /// $MP_AUTHKEY). Workers need the same key.
    #[arg(
        long,
        value_name = "FILE",
        env = "MP_AUTHKEY_FILE",
        requires = "listen"
    )]
    pub(super) authkey_file: Option<PathBuf>,
    /// With --listen: a worker silent for this long (no call, as when its
    /// host is cut off) is given up, and its records run elsewhere.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, default_value = "10s", requires = "listen")]
    pub(super) lease: Duration,
    /// With --listen: start `mp worker` on these hosts over ssh, as GNU
    /// parallel's -S does (HOST or N/HOST for N slots, comma-separated;
    /// may be repeated). The key goes to the worker on its stdin.
    #[arg(
        long,
        value_name = "HOST[,HOST...]",
        value_delimiter = ',',
        requires = "listen"
    )]
    pub(super) ssh: Vec<String>,
    /// With --listen: the --ssh hosts, one per line (# comments).
    #[arg(long, value_name = "FILE", requires = "listen")]
    pub(super) sshloginfile: Option<PathBuf>,
    /// The program --ssh runs as `PROG HOST COMMAND` (as GNU parallel's
    /// --ssh).
    #[arg(long, value_name = "PROG", env = "MP_SSH", default_value = "ssh")]
    pub(super) ssh_program: String,
    /// The address --ssh workers dial [default: the --listen address, an
    /// unspecified host (0.0.0.0) replaced by this machine's name].
    #[arg(long, value_name = "ADDR", requires = "listen")]
    pub(super) advertise: Option<String>,
    /// The command and its arguments (use -- before it if it has options).
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub(super) command: Vec<OsString>,
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
/// sockets; far beyond what a machine runs at once): as many as the
/// sentinel's table has slots for.
pub(super) const MAX_WORKERS: usize = crate::cli::command::SLOTS;

pub(super) fn parse_jobs(s: &str) -> std::result::Result<Jobs, String> {
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
    if matches!(jobs, Jobs::Percent(0)) {
        return Err(format!(
            "{s:?}: at least 1 worker is needed (GNU parallel's -j 0, \"as many as possible\", is not supported)"
        ));
    }
    Ok(jobs)
}

pub(super) fn parse_positive(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

/// `--timeout`: a duration above zero.
pub(super) fn parse_timeout(s: &str) -> std::result::Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "{s:?}: a time limit of 0 would stop every task at once; leave --timeout out for no limit"
        ));
    }
    Ok(d)
}

pub(super) fn parse_start_method(s: &str) -> std::result::Result<mp::StartMethod, String> {
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
