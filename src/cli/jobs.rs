//! Job control for long `mp map` runs: `--halt`, `--joblog`, `--resume`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// When to stop: GNU parallel's `--halt WHEN,WHAT=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Halt {
    /// `now`: kill running tasks; `soon` (false): let them finish.
    pub now: bool,
    /// What is counted.
    pub what: HaltOn,
    /// After this many.
    pub count: u64,
}

/// What `--halt` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltOn {
    /// Failed tasks.
    Fail,
    /// Succeeded tasks.
    Success,
    /// Finished tasks, either way.
    Done,
}

/// The parsed `--halt` value (None: never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaltArg(pub Option<Halt>);

/// For clap.
pub fn parse_halt_arg(s: &str) -> std::result::Result<HaltArg, String> {
    parse_halt(s).map(HaltArg)
}

/// Parses `never`, `soon`, `now`, `0`/`1`/`2`, `soon,fail=N`, `now,success=N`, `soon,done=N`.
pub fn parse_halt(s: &str) -> std::result::Result<Option<Halt>, String> {
    let bad = |why: &str| {
        format!("bad --halt {s:?}: {why} (use never, soon, now, or soon|now,fail|success|done=N)")
    };
    let (when, cond) = match s.split_once(',') {
        Some((w, c)) => (w, Some(c)),
        None => (s, None),
    };
    let now = match when {
        "never" | "0" if cond.is_none() => return Ok(None),
        "soon" => false,
        "now" => true,
        "1" if cond.is_none() => false,
        "2" if cond.is_none() => true,
        _ => return Err(bad("unknown form")),
    };
    let (what, count) = match cond {
        None => (HaltOn::Fail, 1),
        Some(c) => {
            let (w, n) = c
                .split_once('=')
                .ok_or_else(|| bad("expected WHAT=N after the comma"))?;
            let what = match w {
                "fail" => HaltOn::Fail,
                "success" => HaltOn::Success,
                "done" => HaltOn::Done,
                _ => return Err(bad("WHAT must be fail, success or done")),
            };
            if n.ends_with('%') {
                return Err(bad(
                    "percentages are not supported: mp reads its input as a stream and does not know the total; give a count",
                ));
            }
            let count: u64 = n.parse().map_err(|_| bad("N must be a whole number"))?;
            if count == 0 {
                return Err(bad("N must be at least 1"));
            }
            (what, count)
        }
    };
    Ok(Some(Halt { now, what, count }))
}

impl Halt {
    /// Whether the counts reach the limit.
    pub fn reached(&self, failed: u64, succeeded: u64) -> bool {
        let n = match self.what {
            HaltOn::Fail => failed,
            HaltOn::Success => succeeded,
            HaltOn::Done => failed + succeeded,
        };
        n >= self.count
    }

    /// For messages: `soon,fail=1`.
    pub fn describe(&self) -> String {
        let what = match self.what {
            HaltOn::Fail => "fail",
            HaltOn::Success => "success",
            HaltOn::Done => "done",
        };
        format!(
            "{},{}={}",
            if self.now { "now" } else { "soon" },
            what,
            self.count
        )
    }
}

/// The joblog header (GNU parallel's columns).
pub const JOBLOG_HEADER: &str =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// One finished task, as the joblog records it.
pub struct LogLine<'a> {
    pub seq: u64,
    pub start: f64,
    pub runtime: f64,
    pub send: u64,
    pub receive: u64,
    pub exitval: i32,
    pub signal: i32,
    /// The command line, as bytes (a tab or newline in it becomes a space).
    pub command: &'a [u8],
    /// The Host column: `:` for this machine.
    pub host: &'a str,
}

/// `--joblog FILE`: one line per finished task, appended and flushed as it is written.
pub struct Joblog {
    file: File,
    line: Vec<u8>,
}

impl Joblog {
    /// Opens FILE for appending (creating it with a header).
    pub fn open(path: &Path) -> Result<Joblog> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open --joblog {}", path.display()))?;
        let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
        if empty {
            writeln!(file, "{JOBLOG_HEADER}")
                .with_context(|| format!("cannot write --joblog {}", path.display()))?;
        }
        Ok(Joblog {
            file,
            line: Vec::new(),
        })
    }

    /// Writes one line (one write(2), so it is whole in the file even if mp dies next).
    pub fn write(&mut self, l: &LogLine<'_>) -> Result<()> {
        self.line.clear();
        let _ = write!(
            self.line,
            "{}\t{}\t{:.3}\t{:.3}\t{}\t{}\t{}\t{}\t",
            l.seq,
            clean_host(l.host),
            l.start,
            l.runtime,
            l.send,
            l.receive,
            l.exitval,
            l.signal
        );
        // The command's exact bytes: a file name need not be UTF-8.
        self.line.extend(
            l.command
                .iter()
                .map(|&b| if b == b'\t' || b == b'\n' { b' ' } else { b }),
        );
        self.line.push(b'\n');
        self.file
            .write_all(&self.line)
            .context("cannot write to the joblog")
    }
}

/// A host name for the joblog's Host column: no tab, newline or space
/// (`:` for an empty name).
fn clean_host(h: &str) -> String {
    let h: String = h
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    if h.is_empty() {
        ":".into()
    } else {
        h
    }
}

/// The record numbers a joblog shows done: a bit per record.
#[derive(Default)]
pub struct DoneSet {
    bits: Vec<u64>,
    count: u64,
}

impl DoneSet {
    fn set(&mut self, seq: u64, on: bool) {
        let (w, b) = ((seq / 64) as usize, seq % 64);
        if w >= self.bits.len() {
            if !on {
                return;
            }
            self.bits.resize(w + 1, 0);
        }
        let was = self.bits[w] & (1 << b) != 0;
        if on && !was {
            self.bits[w] |= 1 << b;
            self.count += 1;
        } else if !on && was {
            self.bits[w] &= !(1 << b);
            self.count -= 1;
        }
    }

    /// Whether record `seq` is done.
    pub fn contains(&self, seq: u64) -> bool {
        let w = (seq / 64) as usize;
        w < self.bits.len() && self.bits[w] & (1 << (seq % 64)) != 0
    }

    /// How many records are done.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether nothing is done.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Reads a joblog. A record is done if it has a line; with
    /// `failed_again`, only if its last line shows success (exit 0, no signal).
    /// A missing file means nothing is done.
    pub fn load(path: &Path, failed_again: bool) -> Result<DoneSet> {
        let mut set = DoneSet::default();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(set),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read --joblog {}", path.display()))
            }
        };
        for (n, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line = line.with_context(|| format!("cannot read --joblog {}", path.display()))?;
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() || line.starts_with("Seq\t") {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let parsed = (cols.len() >= 8)
                .then(|| {
                    Some((
                        cols[0].parse::<u64>().ok()?,
                        cols[6].parse::<i64>().ok()?,
                        cols[7].parse::<i64>().ok()?,
                    ))
                })
                .flatten();
            let Some((seq, exitval, signal)) = parsed else {
                // A line cut short by a crash is the last one: ignore it; any
                // other malformed line means this is not a joblog.
                if n > 0 && cols.len() < 8 {
                    eprintln!(
                        "mp: ignoring an incomplete line {} of --joblog {}",
                        n + 1,
                        path.display()
                    );
                    continue;
                }
                anyhow::bail!(
                    "--joblog {}: line {} is not a joblog line: {line:?}",
                    path.display(),
                    n + 1
                );
            };
            let ok = exitval == 0 && signal == 0;
            set.set(seq, !failed_again || ok);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halt_forms() {
        assert_eq!(parse_halt("never").unwrap(), None);
        let h = parse_halt("soon").unwrap().unwrap();
        assert!(!h.now && h.what == HaltOn::Fail && h.count == 1);
        let h = parse_halt("now,success=3").unwrap().unwrap();
        assert!(h.now && h.what == HaltOn::Success && h.count == 3);
        assert_eq!(parse_halt("2").unwrap().unwrap().describe(), "now,fail=1");
        assert!(parse_halt("soon,fail=10%")
            .unwrap_err()
            .contains("percentages"));
        assert!(parse_halt("later").is_err());
        assert!(parse_halt("soon,fail=0").is_err());
        assert!(h.reached(0, 3) && !h.reached(5, 2));
    }

    #[test]
    fn joblog_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = Joblog::open(&path).unwrap();
        for (seq, exitval) in [(1, 0), (2, 1), (5, 0)] {
            log.write(&LogLine {
                seq,
                start: 1.0,
                runtime: 0.5,
                send: 0,
                receive: 3,
                exitval,
                signal: 0,
                command: b"echo\ta",
                host: if seq == 5 { "node 1" } else { ":" },
            })
            .unwrap();
        }
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(JOBLOG_HEADER));
        assert!(text.contains("2\t:\t1.000\t0.500\t0\t3\t1\t0\techo a\n"));
        assert!(text.contains("5\tnode_1\t1.000"), "{text}");
        let all = DoneSet::load(&path, false).unwrap();
        assert!(all.contains(1) && all.contains(2) && all.contains(5) && !all.contains(3));
        assert_eq!(all.len(), 3);
        let ok = DoneSet::load(&path, true).unwrap();
        assert!(ok.contains(1) && !ok.contains(2) && ok.contains(5));
        // A later success of 2 counts.
        let mut log = Joblog::open(&path).unwrap();
        log.write(&LogLine {
            seq: 2,
            start: 2.0,
            runtime: 0.1,
            send: 0,
            receive: 0,
            exitval: 0,
            signal: 0,
            command: b"x",
            host: "n2",
        })
        .unwrap();
        assert!(DoneSet::load(&path, true).unwrap().contains(2));
        assert!(DoneSet::load(&dir.path().join("missing"), false)
            .unwrap()
            .is_empty());
    }
}
