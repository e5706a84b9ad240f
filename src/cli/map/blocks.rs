//! Records framed into blocks for `--persistent` workers, sized by how fast
//! the command turns out to be.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::command::{Block, BlockOutcome, Frame, PersistentCommand};

use super::super::jobs::DoneSet;
use super::input::Records;
use super::output;
use super::NEWLINE_IN_RECORD;

/// Records per block before the first results tell how fast the command is.
pub(super) const FIRST_BLOCK_RECORDS: usize = 256;
/// Adaptive blocks aim at this much work each.
pub(super) const BLOCK_TARGET: Duration = Duration::from_millis(20);
/// The most records in one adaptive block.
pub(super) const MAX_BLOCK_RECORDS: usize = 65_536;
/// A block stops growing at this many bytes (one longer record makes its own block).
pub(super) const MAX_BLOCK_BYTES: usize = 512 * 1024;

/// Sizes the blocks still to be read after block `b` came back: halfway
/// toward the number of records that takes [`BLOCK_TARGET`] at `b`'s pace
/// (a block with failures says nothing of the pace).
pub(super) fn adapt(size: &AtomicUsize, b: &BlockOutcome) {
    if b.nrecords > 0 && b.failures.is_empty() {
        let per = b.duration.as_secs_f64() / f64::from(b.nrecords);
        let ideal = (BLOCK_TARGET.as_secs_f64() / per.max(1e-9)) as usize;
        let next = ((size.load(Ordering::Relaxed) + ideal.clamp(1, MAX_BLOCK_RECORDS)) / 2).max(1);
        size.store(next, Ordering::Relaxed);
    }
}

/// Reads records and frames them into blocks for persistent workers.
pub(super) struct BlockReader {
    pub(super) records: Records,
    pub(super) frame: Frame,
    pub(super) command: Arc<PersistentCommand>,
    pub(super) next_seq: u64,
    /// Records per block (adapted by the consumer unless --chunksize is given).
    pub(super) size: Arc<AtomicUsize>,
    pub(super) done_before: DoneSet,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) echo: bool,
    pub(super) timing: bool,
    /// A record that cannot be framed, to be sent (as a failure) after the current block.
    pub(super) held: Option<Block>,
    pub(super) eof: bool,
}

impl BlockReader {
    /// Appends one record in the frame's form, ending with a newline.
    pub(super) fn frame_record(&self, data: &mut Vec<u8>, seq: u64, record: &[u8]) {
        match self.frame {
            Frame::Lines => data.extend_from_slice(record),
            Frame::Json => output::frame_json_record(data, seq, record),
        }
        data.push(b'\n');
    }

    pub(super) fn block(&self, first_seq: u64, data: Vec<u8>, reject: Option<String>) -> Block {
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
    pub(super) fn fill_lines(&mut self, data: &mut Vec<u8>, want: usize) -> usize {
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
                    let lines = crate::cli::command::count_newlines(&buf[..=last]);
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
