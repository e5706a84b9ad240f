//! GNU parallel's input sources: `::: a b` lists, `:::: FILE` and `-a FILE`
//! files (`-` is stdin), linked element by element with `:::+` / `::::+`,
//! and combined as GNU does: the cartesian product, the last source varying
//! fastest. Then `-n N` / `-X` / `-m`: several records per command.
//!
//! The first group of sources streams (memory stays O(1) on an endless
//! stdin); the later groups are repeated for each of its records, so they
//! are read whole first, as GNU does.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::input::{InputStatus, Records};

/// Where one input source's values come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `::: a b c`.
    List(Vec<Vec<u8>>),
    /// `:::: FILE`, `-a FILE` (`-`: stdin).
    File(PathBuf),
}

/// Sources linked element by element (`:::+`), one group per `:::`.
pub type Group = Vec<Source>;

/// The source markers.
const MARKERS: [&str; 4] = [":::", "::::", ":::+", "::::+"];

/// Splits COMMAND at the first `:::`-style marker: the command, and the
/// groups of sources after it.
pub fn split_command(command: &[OsString]) -> (Vec<OsString>, Vec<Group>) {
    let is_marker = |a: &OsString| MARKERS.iter().any(|m| a.as_bytes() == m.as_bytes());
    let Some(first) = command.iter().position(is_marker) else {
        return (command.to_vec(), Vec::new());
    };
    let mut groups: Vec<Group> = Vec::new();
    // The marker in force: (files?, link the next source?).
    let mut mode = (false, false);
    for a in &command[first..] {
        let b = a.as_bytes();
        if is_marker(a) {
            let files = b.starts_with(b"::::");
            let link = b.ends_with(b"+") && !groups.is_empty();
            mode = (files, link);
            if !files {
                // A list starts now, even an empty one (`:::` with nothing
                // after it gives no records).
                let src = Source::List(Vec::new());
                match groups.last_mut() {
                    Some(g) if link => g.push(src),
                    _ => groups.push(vec![src]),
                }
            }
            continue;
        }
        match mode {
            (false, _) => {
                if let Some(Source::List(items)) = groups.last_mut().and_then(|g| g.last_mut()) {
                    items.push(b.to_vec());
                }
            }
            (true, link) => {
                let src = Source::File(PathBuf::from(a));
                match groups.last_mut() {
                    Some(g) if link => g.push(src),
                    _ => groups.push(vec![src]),
                }
                // Only the first file after `::::+` is linked.
                mode.1 = false;
            }
        }
    }
    (command[..first].to_vec(), groups)
}

/// One source being read.
enum Reader {
    List(std::vec::IntoIter<Vec<u8>>),
    Records(Box<Records>),
}

impl Reader {
    fn next(&mut self) -> Option<Vec<u8>> {
        match self {
            Reader::List(it) => it.next(),
            Reader::Records(r) => r.next_bytes(),
        }
    }
}

/// Opens a source; a file that cannot be read is named in the error.
fn open(src: Source, delim: u8, status: &InputStatus) -> Result<Reader, String> {
    Ok(match src {
        Source::List(items) => Reader::List(items.into_iter()),
        Source::File(path) if path.as_os_str() == "-" => {
            let mut r = Records::new(Box::new(std::io::stdin()), Some(0), delim);
            r.status = status.clone();
            Reader::Records(Box::new(r))
        }
        Source::File(path) => {
            let f = std::fs::File::open(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
            let mut r = Records::new(Box::new(f), Some(fd), delim);
            r.status = status.clone();
            Reader::Records(Box::new(r))
        }
    })
}

/// The next tuple of a linked group: one value from each source, or the
/// end when any source ends (GNU's `:::+` stops at the shortest).
fn next_linked(readers: &mut [Reader]) -> Option<Vec<Vec<u8>>> {
    let mut tuple = Vec::with_capacity(readers.len());
    for r in readers {
        tuple.push(r.next()?);
    }
    Some(tuple)
}

/// Records from several sources: each one a value per source.
pub struct Product {
    first: Vec<Reader>,
    /// The later groups, read whole: their tuples.
    rest: Vec<Vec<Vec<Vec<u8>>>>,
    current: Option<Vec<Vec<u8>>>,
    /// An odometer over `rest`.
    index: Vec<usize>,
    /// How many records in all, when known without reading (lists only).
    pub total: Option<u64>,
}

impl Product {
    /// Opens the groups. With `count`, regular files (and stdin, when it is
    /// one) are read once ahead to know the total for the progress line.
    pub fn open(
        groups: Vec<Group>,
        delim: u8,
        status: &InputStatus,
        count: bool,
    ) -> Result<Product, String> {
        let mut groups = groups.into_iter();
        let first_group = groups.next().unwrap_or_default();
        let mut total: Option<u64> = Some(1);
        let n = first_group
            .iter()
            .map(|s| match s {
                Source::List(items) => Some(items.len() as u64),
                Source::File(path) if count => count_records(path, delim),
                Source::File(_) => None,
            })
            .try_fold(u64::MAX, |m, n| n.map(|n| m.min(n)));
        total = total.zip(n).map(|(a, b)| a.saturating_mul(b));
        let first = first_group
            .into_iter()
            .map(|s| open(s, delim, status))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rest = Vec::new();
        for g in groups {
            let mut readers = g
                .into_iter()
                .map(|s| open(s, delim, status))
                .collect::<Result<Vec<_>, _>>()?;
            let mut tuples = Vec::new();
            while let Some(t) = next_linked(&mut readers) {
                tuples.push(t);
            }
            total = total.map(|t| t.saturating_mul(tuples.len() as u64));
            rest.push(tuples);
        }
        Ok(Product {
            index: vec![0; rest.len()],
            first,
            rest,
            current: None,
            total,
        })
    }
}

impl Iterator for Product {
    type Item = Vec<Vec<u8>>;

    fn next(&mut self) -> Option<Vec<Vec<u8>>> {
        if self.rest.iter().any(Vec::is_empty) {
            return None;
        }
        if self.current.is_none() {
            self.current = Some(next_linked(&mut self.first)?);
            self.index.iter_mut().for_each(|i| *i = 0);
        }
        let mut record = self.current.clone()?;
        for (g, &i) in self.rest.iter().zip(&self.index) {
            record.extend(g[i].iter().cloned());
        }
        // Advance the odometer: the last group varies fastest.
        let mut k = self.rest.len();
        loop {
            if k == 0 {
                self.current = None;
                break;
            }
            k -= 1;
            self.index[k] += 1;
            if self.index[k] < self.rest[k].len() {
                break;
            }
            self.index[k] = 0;
        }
        Some(record)
    }
}

/// How many records a regular file holds (`-`: stdin, from where it is
/// now), without moving stdin's offset; `None` for a pipe or a terminal.
pub fn count_records(path: &std::path::Path, delim: u8) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let stdin;
    let file;
    let (f, mut offset): (&std::fs::File, u64) = if path.as_os_str() == "-" {
        // SAFETY: fd 0 stays open while this borrowed File lives; it is
        // never closed here (ManuallyDrop).
        stdin = std::mem::ManuallyDrop::new(unsafe {
            <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(0)
        });
        // SAFETY: lseek on fd 0 with SEEK_CUR only reports the offset.
        let at = unsafe { libc::lseek(0, 0, libc::SEEK_CUR) };
        (&stdin, u64::try_from(at).ok()?)
    } else {
        file = std::fs::File::open(path).ok()?;
        (&file, 0)
    };
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut buf = vec![0u8; 1 << 16];
    let (mut n, mut last) = (0u64, delim);
    loop {
        let got = match f.read_at(&mut buf, offset) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        n += memchr::memchr_iter(delim, &buf[..got]).count() as u64;
        last = buf[got - 1];
        offset += got as u64;
    }
    Some(n + u64::from(last != delim))
}

/// The longest command line a batch makes (bytes of its arguments, one
/// more each), under Linux's 128 KiB limit for one argument (a `sh -c`
/// line is one) with room for the command's own words.
pub const MAX_LINE: usize = 126 * 1024;

/// How records are put together into commands: `-n N`, `-X`, `-m`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Batching {
    /// `-n N`: at most N records per command.
    pub max_records: Option<usize>,
    /// `-X` / `-m`: as many as fit in a command line; at the end of the
    /// input, what is left is spread evenly over the workers.
    pub fill: bool,
    /// Workers, for the spreading.
    pub workers: usize,
    /// Bytes each value adds to the command line per occurrence (the
    /// placeholders in COMMAND that take every value; at least 1).
    pub uses: usize,
}

impl Batching {
    /// Whether records are batched at all.
    pub fn on(&self) -> bool {
        self.fill || self.max_records.is_some()
    }
}

/// Groups records into batches: each batch is the values of its records,
/// one after the other (GNU's `-n`, `-X`, `-m`).
pub struct Batches<I: Iterator<Item = Vec<Vec<u8>>>> {
    inner: std::iter::Peekable<I>,
    pending: std::collections::VecDeque<Vec<Vec<u8>>>,
    how: Batching,
    spread: bool,
}

impl<I: Iterator<Item = Vec<Vec<u8>>>> Batches<I> {
    pub fn new(inner: I, how: Batching) -> Batches<I> {
        Batches {
            inner: inner.peekable(),
            pending: Default::default(),
            how,
            spread: false,
        }
    }
}

impl<I: Iterator<Item = Vec<Vec<u8>>>> Iterator for Batches<I> {
    /// The batch's values, and how many records it holds.
    type Item = (Vec<Vec<u8>>, usize);

    fn next(&mut self) -> Option<(Vec<Vec<u8>>, usize)> {
        let mut batch: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut len = 0usize;
        let per = self.how.uses.max(1);
        while let Some(rec) = self.pending.pop_front().or_else(|| self.inner.next()) {
            let l: usize = rec.iter().map(|v| (v.len() + 1) * per).sum();
            if !batch.is_empty() && len + l > MAX_LINE {
                self.pending.push_front(rec);
                break;
            }
            len += l;
            batch.push(rec);
            if self.how.max_records.is_some_and(|n| batch.len() >= n) {
                break;
            }
        }
        if self.how.fill && !self.spread && self.pending.is_empty() && self.inner.peek().is_none() {
            // The input ended within this batch: spread it over the workers.
            self.spread = true;
            if batch.len() > 1 {
                let n = batch.len().div_ceil(self.how.workers.max(1));
                self.how.max_records = Some(n);
                self.pending.extend(batch.drain(n..));
            }
        }
        if batch.is_empty() {
            return None;
        }
        let n = batch.len();
        Some((batch.into_iter().flatten().collect(), n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn list(v: &[&str]) -> Source {
        Source::List(v.iter().map(|s| s.as_bytes().to_vec()).collect())
    }

    fn strings(p: impl Iterator<Item = Vec<Vec<u8>>>) -> Vec<String> {
        p.map(|r| String::from_utf8(r.join(&b' ')).unwrap())
            .collect()
    }

    #[test]
    fn markers_split_the_command() {
        let (cmd, groups) = split_command(&os(&[
            "echo", "{}", ":::", "a", "b", ":::+", "1", "2", "::::", "f", "::::+", "g", "h",
        ]));
        assert_eq!(cmd, os(&["echo", "{}"]));
        assert_eq!(
            groups,
            vec![
                vec![list(&["a", "b"]), list(&["1", "2"])],
                vec![Source::File("f".into()), Source::File("g".into())],
                vec![Source::File("h".into())],
            ]
        );
        let (cmd, groups) = split_command(&os(&["echo", "::"]));
        assert_eq!(cmd.len(), 2);
        assert!(groups.is_empty());
    }

    #[test]
    fn product_as_gnu() {
        let st = InputStatus::default();
        let p = Product::open(
            vec![vec![list(&["a", "b"])], vec![list(&["1", "2", "3"])]],
            b'\n',
            &st,
            false,
        )
        .unwrap();
        assert_eq!(p.total, Some(6));
        assert_eq!(strings(p), ["a 1", "a 2", "a 3", "b 1", "b 2", "b 3"]);
        let p = Product::open(
            vec![vec![list(&["a", "b", "c"]), list(&["1", "2"])]],
            b'\n',
            &st,
            false,
        )
        .unwrap();
        assert_eq!(strings(p), ["a 1", "b 2"]);
        let p =
            Product::open(vec![vec![list(&["a"])], vec![list(&[])]], b'\n', &st, false).unwrap();
        assert_eq!(p.count(), 0);
    }

    #[test]
    fn batches_spread_at_the_end() {
        let recs = |n: usize| (1..=n).map(|i| vec![i.to_string().into_bytes()]);
        let sizes = |n, how| {
            Batches::new(recs(n), how)
                .map(|(_, k)| k)
                .collect::<Vec<_>>()
        };
        let x = |workers| Batching {
            fill: true,
            workers,
            uses: 1,
            max_records: None,
        };
        assert_eq!(sizes(10, x(3)), [4, 4, 2]);
        assert_eq!(sizes(5, x(2)), [3, 2]);
        assert_eq!(sizes(10, x(1)), [10]);
        let n2 = Batching {
            max_records: Some(2),
            ..Default::default()
        };
        assert_eq!(sizes(5, n2), [2, 2, 1]);
        // Past a command line's length, a new batch starts.
        let long = (0..100).map(|_| vec![vec![b'x'; 4000]]);
        let b: Vec<usize> = Batches::new(long, x(1)).map(|(_, k)| k).collect();
        assert!(b.len() >= 3 && b.iter().sum::<usize>() == 100, "{b:?}");
    }
}
