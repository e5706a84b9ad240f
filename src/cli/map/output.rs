//! Writing results: task output whole, JSON lines that carry bytes
//! losslessly, joblog lines.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::cli::command::{BlockOutcome, Frame};
use anyhow::Result;
use serde_json::{Map, Value};

use super::super::jobs::{self, Joblog, LogLine};
use super::{MapArgs, MapOutcome};

/// Standard base64 (RFC 4648, with padding).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Puts `bytes` in `obj` under `key` as a string; bytes that are not UTF-8
/// go in lossily there (U+FFFD) and exactly, in base64, under `key_b64`.
/// JSON output stays valid for every parser and loses nothing.
pub fn put_bytes(obj: &mut Map<String, Value>, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            obj.insert(key.into(), Value::String(s.into()));
        }
        Err(_) => {
            obj.insert(
                key.into(),
                Value::String(String::from_utf8_lossy(bytes).into_owned()),
            );
            obj.insert(format!("{key}_b64"), Value::String(base64(bytes)));
        }
    }
}

fn write_json_line(out: &mut dyn Write, obj: Map<String, Value>) -> Result<()> {
    serde_json::to_writer(&mut *out, &Value::Object(obj))?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Where results go.
pub struct Out<'a> {
    pub stdout: &'a std::io::Stdout,
    pub stderr: &'a std::io::Stderr,
    pub json: bool,
    /// `--tag`: each output line starts with the record and a TAB.
    pub tag: bool,
    pub joblog: &'a mut Option<Joblog>,
    /// The joblog's Host column: `:` for this machine (GNU parallel's
    /// name for it), else the remote worker's host.
    pub host: &'a str,
}

/// Writes `data` with `tag` and a TAB before each line (a last line
/// without its newline too).
fn write_tagged(out: &mut dyn Write, tag: &[u8], data: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(data.len() + 16 * (tag.len() + 1));
    for line in data.split_inclusive(|&b| b == b'\n') {
        buf.extend_from_slice(tag);
        buf.push(b'\t');
        buf.extend_from_slice(line);
    }
    out.write_all(&buf)
}

/// Writes one task's result (and its joblog line); returns whether it succeeded.
pub fn report(result: mp::Result<MapOutcome>, seq: Option<u64>, o: Out<'_>) -> Result<bool> {
    match result {
        Ok(MapOutcome {
            seq,
            input,
            command,
            outcome: r,
        }) => {
            if r.output_closed {
                // --line-buffer: the worker found our reader gone, as we
                // would have on writing this output ourselves.
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
            }
            let ok = r.success();
            let stdout_len;
            if o.json {
                let out_bytes = r.stdout.into_bytes()?;
                let err_bytes = r.stderr.into_bytes()?;
                stdout_len = out_bytes.len() as u64;
                let mut obj = Map::new();
                obj.insert("seq".into(), seq.into());
                put_bytes(&mut obj, "input", input.as_deref().unwrap_or(b""));
                obj.insert("exit_code".into(), r.exit_code.into());
                obj.insert("signal".into(), r.signal.into());
                obj.insert("timed_out".into(), r.timed_out.into());
                obj.insert("error".into(), r.spawn_error.into());
                put_bytes(&mut obj, "stdout", &out_bytes);
                put_bytes(&mut obj, "stderr", &err_bytes);
                obj.insert("start".into(), r.start.into());
                obj.insert("duration".into(), r.duration.as_secs_f64().into());
                obj.insert("worker_pid".into(), r.worker_pid.into());
                obj.insert("pid".into(), r.pid.into());
                write_json_line(&mut o.stdout.lock(), obj)?;
            } else if o.tag {
                let tag = input.as_deref().unwrap_or(b"");
                let out_bytes = r.stdout.into_bytes()?;
                stdout_len = out_bytes.len() as u64;
                write_tagged(&mut o.stdout.lock(), tag, &out_bytes)?;
                let err_bytes = r.stderr.into_bytes()?;
                let mut err = o.stderr.lock();
                write_tagged(&mut err, tag, &err_bytes)?;
                if let Some(e) = &r.spawn_error {
                    writeln!(err, "mp: task {seq}: cannot run {e}")?;
                } else if r.timed_out {
                    writeln!(
                        err,
                        "mp: task {seq}: timed out after {:.3}s",
                        r.duration.as_secs_f64()
                    )?;
                }
            } else {
                {
                    let mut out = o.stdout.lock();
                    stdout_len = r.stdout.write_to(&mut out)?;
                }
                let mut err = o.stderr.lock();
                r.stderr.write_to(&mut err)?;
                if let Some(e) = &r.spawn_error {
                    writeln!(err, "mp: task {seq}: cannot run {e}")?;
                } else if r.timed_out {
                    writeln!(
                        err,
                        "mp: task {seq}: timed out after {:.3}s",
                        r.duration.as_secs_f64()
                    )?;
                }
            }
            if let Some(log) = o.joblog {
                log.write(&LogLine {
                    seq,
                    start: r.start,
                    runtime: r.duration.as_secs_f64(),
                    send: 0,
                    receive: stdout_len + r.streamed,
                    exitval: r.exit_code.unwrap_or(-1),
                    signal: r.signal.unwrap_or(0),
                    command: command.as_deref().unwrap_or(b""),
                    host: o.host,
                })?;
            }
            Ok(ok)
        }
        Err(e) => report_error(task_error(e), seq, o),
    }
}

/// A remote task's result (the reason when it has none).
pub fn report_remote(
    result: std::result::Result<MapOutcome, String>,
    seq: u64,
    o: Out<'_>,
) -> Result<bool> {
    match result {
        Ok(r) => report(Ok(r), Some(seq), o),
        Err(e) => report_error(e, Some(seq), o),
    }
}

/// A task without a result: the reason, on stderr (or as JSON) and in the joblog.
fn report_error(e: String, seq: Option<u64>, o: Out<'_>) -> Result<bool> {
    {
        {
            let position = seq.map_or_else(|| "?".to_string(), |p| p.to_string());
            if o.json {
                let mut obj = Map::new();
                obj.insert("seq".into(), seq.map_or(Value::Null, Value::from));
                obj.insert("error".into(), e.clone().into());
                write_json_line(&mut o.stdout.lock(), obj)?;
            } else {
                writeln!(o.stderr.lock(), "mp: task {position}: {e}")?;
            }
            if let (Some(log), Some(seq)) = (o.joblog, seq) {
                log.write(&LogLine {
                    seq,
                    start: now_epoch(),
                    runtime: 0.0,
                    send: 0,
                    receive: 0,
                    exitval: -1,
                    signal: 0,
                    command: format!("({e})").as_bytes(),
                    host: o.host,
                })?;
            }
            Ok(false)
        }
    }
}

/// Why a task (or a block of records) has no result, for a message.
pub fn task_error(e: mp::Error) -> String {
    match e {
        mp::Error::Task(t @ mp::pool::TaskError::WorkerLost { .. }) => format!("lost: {t}"),
        mp::Error::Task(t) => t.to_string(),
        e => e.to_string(),
    }
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A JSON-frame record as the command received it: its `record` string,
/// or the exact bytes from `record_b64` when the record was not UTF-8.
fn json_frame_record(line: &[u8]) -> Vec<u8> {
    let Ok(v) = serde_json::from_slice::<Value>(line) else {
        return Vec::new();
    };
    if let Some(b) = v
        .get("record_b64")
        .and_then(Value::as_str)
        .and_then(unbase64)
    {
        return b;
    }
    v.get("record")
        .and_then(Value::as_str)
        .map(|s| s.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Decodes standard base64 (what [`base64`] writes).
fn unbase64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}

/// Frames one record for a JSON-frame command: `{"seq":N,"record":"..."}`,
/// plus `"record_b64"` when the record is not UTF-8.
pub fn frame_json_record(data: &mut Vec<u8>, seq: u64, record: &[u8]) {
    let mut obj = Map::new();
    obj.insert("seq".into(), seq.into());
    put_bytes(&mut obj, "record", record);
    let _ = serde_json::to_writer(&mut *data, &Value::Object(obj));
}

/// Writes a block's replies (and joblog lines); failures go to stderr.
pub fn report_block(b: BlockOutcome, frame: Frame, o: Out<'_>) -> Result<()> {
    if !o.json && o.joblog.is_none() && b.failures.is_empty() && frame == Frame::Lines {
        // The common case: the replies are the output.
        o.stdout.lock().write_all(&b.replies)?;
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
    let mut out = o.stdout.lock();
    for i in 0..b.nrecords {
        let seq = b.first_seq + u64::from(i);
        while let Some(&&(from, p)) = pid_runs.peek() {
            if from > i {
                break;
            }
            pid = Some(p);
            pid_runs.next();
        }
        let input_line = inputs.as_mut().and_then(|it| it.next()).unwrap_or(b"");
        let input_line = input_line.strip_suffix(b"\n").unwrap_or(input_line);
        let record: Vec<u8> = match frame {
            Frame::Lines => input_line.to_vec(),
            Frame::Json => json_frame_record(input_line),
        };
        let (start, runtime) = b.times.get(i as usize).map_or((b.start, 0.0), |&(s, d)| {
            (b.start + f64::from(s), f64::from(d))
        });
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
        if o.json {
            let mut obj = Map::new();
            obj.insert("seq".into(), seq.into());
            put_bytes(&mut obj, "input", &record);
            match (reply, frame) {
                (None, _) => {
                    obj.insert("reply".into(), Value::Null);
                }
                (Some(r), Frame::Lines) => put_bytes(&mut obj, "reply", r),
                (Some(r), Frame::Json) => {
                    obj.insert(
                        "reply".into(),
                        serde_json::from_slice(r).unwrap_or(Value::Null),
                    );
                }
            }
            obj.insert("error".into(), failure.map(|f| f.reason.clone()).into());
            obj.insert("exit_code".into(), failure.and_then(|f| f.exit_code).into());
            obj.insert("signal".into(), failure.and_then(|f| f.signal).into());
            obj.insert(
                "timed_out".into(),
                failure.is_some_and(|f| f.timed_out).into(),
            );
            obj.insert("attempts".into(), failure.map_or(1, |f| f.attempts).into());
            obj.insert("start".into(), start.into());
            obj.insert("duration".into(), runtime.into());
            obj.insert("worker_pid".into(), b.worker_pid.into());
            obj.insert("pid".into(), pid.into());
            write_json_line(&mut out, obj)?;
        } else if let Some(r) = reply {
            match frame {
                Frame::Lines => out.write_all(r)?,
                // A string reply prints as its text; any other value as compact JSON.
                Frame::Json => match serde_json::from_slice::<Value>(r) {
                    Ok(Value::String(text)) => out.write_all(text.as_bytes())?,
                    Ok(v) => serde_json::to_writer(&mut out, &v)?,
                    Err(_) => out.write_all(r)?,
                },
            }
            out.write_all(b"\n")?;
        }
        if let Some(f) = failure {
            out.flush()?;
            writeln!(o.stderr.lock(), "mp: record {seq}: {}", f.reason)?;
        }
        if let Some(log) = o.joblog.as_mut() {
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
                host: o.host,
            })?;
        }
    }
    Ok(())
}

/// Whether `mp map` shows a progress line.
pub(super) fn progress_shown(args: &MapArgs) -> bool {
    !args.no_progress && (args.progress || std::io::IsTerminal::is_terminal(&std::io::stderr()))
}

/// A rate as a person writes it: `120/s`, `2.3/s`, `0.25/s`.
pub(super) fn human_rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "0/s".into()
    } else if per_sec >= 100.0 {
        format!("{per_sec:.0}/s")
    } else if per_sec >= 1.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.2}/s")
    }
}

/// A duration as a person writes it: `42s`, `3m05s`, `2h10m`.
pub(super) fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    }
}

/// The progress line: a bar (or a spinner when the total is unknown) on a
/// terminal, a plain line once a second elsewhere. O(1) memory either way.
pub(super) struct Progress {
    pub(super) bar: Option<indicatif::ProgressBar>,
    pub(super) plain: bool,
    pub(super) last: Instant,
    pub(super) started: Instant,
    pub(super) total: Option<u64>,
}

impl Progress {
    pub(super) fn new(args: &MapArgs, total: Option<u64>) -> Progress {
        let stderr_tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let show = progress_shown(args);
        let bar = (show && stderr_tty).then(|| {
            let rate = |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&human_rate(s.per_sec()));
            };
            let eta = |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&human_duration(s.eta()));
            };
            let (bar, template) = match total {
                Some(t) => (
                    indicatif::ProgressBar::new(t),
                    "[{bar:30}] {pos}/{len} done, {msg}{rate}, ETA {eta_h} [{elapsed_precise}]",
                ),
                None => (
                    indicatif::ProgressBar::new_spinner(),
                    "{spinner} {pos} done, {msg}{rate} [{elapsed_precise}]",
                ),
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(template)
                    .map(|s| {
                        s.with_key("rate", rate)
                            .with_key("eta_h", eta)
                            .progress_chars("=> ")
                    })
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
            total,
        }
    }

    pub(super) fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    pub(super) fn update(&mut self, done: u64, failed: u64, added: u64) {
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

    pub(super) fn print(&self, done: u64, failed: u64) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        let per_sec = done as f64 / elapsed;
        let rate = human_rate(per_sec);
        match self.total {
            Some(total) => {
                let left = total.saturating_sub(done) as f64 / per_sec.max(1e-9);
                let eta =
                    human_duration(Duration::try_from_secs_f64(left).unwrap_or(Duration::MAX));
                eprintln!("mp: {done}/{total} done, {failed} failed, {rate}, ETA {eta}");
            }
            None => eprintln!("mp: {done} done, {failed} failed, {rate}"),
        }
    }

    pub(super) fn finish(self, done: u64, failed: u64) {
        if self.plain {
            self.print(done, failed);
        }
        if let Some(bar) = self.bar {
            if self.total.is_some() {
                // The finished bar stays on the screen, as GNU's --bar does.
                bar.finish();
            } else {
                bar.finish_and_clear();
            }
        }
    }
}

/// Counts, halting and the joblog, shared by both modes.
pub(super) struct Tally {
    pub(super) done: u64,
    pub(super) failed: u64,
    pub(super) joblog: Option<Joblog>,
    pub(super) halt: Option<jobs::Halt>,
    pub(super) halted: bool,
    pub(super) progress: Progress,
}

impl Tally {
    pub(super) fn new(args: &MapArgs, joblog: Option<Joblog>, total: Option<u64>) -> Tally {
        Tally {
            done: 0,
            failed: 0,
            joblog,
            halt: args.halt.and_then(|h| h.0),
            halted: false,
            progress: Progress::new(args, total),
        }
    }

    pub(super) fn count(&mut self, ok: bool) {
        self.done += 1;
        if !ok {
            self.failed += 1;
        }
    }

    /// Whether --halt is reached now (once).
    pub(super) fn halt_now(&mut self) -> Option<jobs::Halt> {
        let h = self.halt?;
        if self.halted || !h.reached(self.failed, self.done - self.failed) {
            return None;
        }
        self.halted = true;
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for (raw, enc) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"caf\xe9", "Y2Fm6Q=="),
        ] {
            assert_eq!(base64(raw), enc);
            assert_eq!(unbase64(enc).unwrap(), raw);
        }
    }

    #[test]
    fn bytes_in_json() {
        let mut obj = Map::new();
        put_bytes(&mut obj, "input", b"ok");
        put_bytes(&mut obj, "out", b"caf\xe9");
        let text = serde_json::to_string(&Value::Object(obj)).unwrap();
        assert_eq!(text, r#"{"input":"ok","out":"caf�","out_b64":"Y2Fm6Q=="}"#);
        let mut data = Vec::new();
        frame_json_record(&mut data, 3, b"\xff");
        assert_eq!(json_frame_record(&data), b"\xff");
    }
}
