//! COMMAND as a template: its arguments split into text and placeholders,
//! expanded per record. Everything here is bytes: a record, a file name or
//! an argument that is not UTF-8 reaches the command exactly as it came.

use serde::{Deserialize, Serialize};

/// A piece of one argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Piece {
    /// Literal bytes.
    Text(#[serde(with = "serde_bytes")] Vec<u8>),
    /// `{}`: the record.
    Whole,
    /// `{.}`: the record without its extension.
    NoExt,
    /// `{/}`: the record's basename.
    Base,
    /// `{//}`: the record's directory.
    Dir,
    /// `{/.}`: the basename without its extension.
    BaseNoExt,
    /// `{#}`: the record number.
    Seq,
    /// `{%}`: the worker slot.
    Slot,
    /// `{N}`: column N (1-based), with `--colsep`.
    Col(usize),
}

impl Piece {
    /// How the placeholder is written.
    pub fn spelling(&self) -> Vec<u8> {
        match self {
            Piece::Text(t) => t.clone(),
            Piece::Whole => b"{}".to_vec(),
            Piece::NoExt => b"{.}".to_vec(),
            Piece::Base => b"{/}".to_vec(),
            Piece::Dir => b"{//}".to_vec(),
            Piece::BaseNoExt => b"{/.}".to_vec(),
            Piece::Seq => b"{#}".to_vec(),
            Piece::Slot => b"{%}".to_vec(),
            Piece::Col(n) => format!("{{{n}}}").into_bytes(),
        }
    }
}

/// One argument of COMMAND, split into text and placeholders.
pub type ArgTemplate = Vec<Piece>;

/// The placeholder spelled `inner` between braces, if it is one of ours.
/// Anything else (`{0}`, `{..}`, awk's `{print $1}`, the shell's `${#0}`)
/// is text, as in GNU parallel.
fn placeholder(inner: &[u8]) -> Option<Piece> {
    Some(match inner {
        b"" => Piece::Whole,
        b"." => Piece::NoExt,
        b"/" => Piece::Base,
        b"//" => Piece::Dir,
        b"/." => Piece::BaseNoExt,
        b"#" => Piece::Seq,
        b"%" => Piece::Slot,
        s if !s.is_empty() && s.len() <= 9 && s.iter().all(u8::is_ascii_digit) => {
            let n: usize = std::str::from_utf8(s).ok()?.parse().ok()?;
            if n == 0 {
                return None;
            }
            Piece::Col(n)
        }
        _ => return None,
    })
}

/// Splits one argument into text and placeholders.
pub fn parse_arg(arg: &[u8]) -> ArgTemplate {
    let mut out = Vec::new();
    let mut text = Vec::new();
    let mut rest = arg;
    while let Some(open) = memchr::memchr(b'{', rest) {
        let after = &rest[open + 1..];
        let piece = memchr::memchr(b'}', after).and_then(|close| {
            let p = placeholder(&after[..close])?;
            Some((p, close))
        });
        match piece {
            Some((p, close)) => {
                text.extend_from_slice(&rest[..open]);
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(p);
                rest = &after[close + 1..];
            }
            None => {
                text.extend_from_slice(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    text.extend_from_slice(rest);
    if !text.is_empty() || out.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}

/// Quotes `s` for `sh` when it needs it (single quotes; a `'` becomes `'\''`).
/// Bytes that are not UTF-8 are fine inside single quotes.
pub fn shell_quote(s: &[u8]) -> Vec<u8> {
    if !s.is_empty()
        && s.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(b))
    {
        return s.to_vec();
    }
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(b'\'');
    for &b in s {
        if b == b'\'' {
            out.extend_from_slice(br"'\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// `s` without trailing slashes, unless it is all slashes (then `/`).
fn trim_slashes(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    if end == 0 && !s.is_empty() {
        return b"/";
    }
    &s[..end]
}

/// `{/}`, as `basename`: `dir/` gives `dir`, `/` gives `/`.
pub fn basename(s: &[u8]) -> &[u8] {
    let t = trim_slashes(s);
    if t == b"/" {
        return t;
    }
    match memchr::memrchr(b'/', t) {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// `{//}`, as `dirname`: `a//b` gives `a`, `/a` and `/` give `/`, `file` gives `.`.
pub fn dirname(s: &[u8]) -> &[u8] {
    let t = trim_slashes(s);
    if t == b"/" {
        return t;
    }
    match memchr::memrchr(b'/', t) {
        None => b".",
        Some(i) => {
            let d = trim_slashes(&t[..i]);
            if d.is_empty() {
                b"/"
            } else {
                d
            }
        }
    }
}

/// `{.}`: without the extension of the last component; a leading dot
/// (`.hidden`) is not an extension, nor is a dot in a directory's name.
pub fn strip_ext(s: &[u8]) -> &[u8] {
    let base_start = memchr::memrchr(b'/', s).map_or(0, |i| i + 1);
    match memchr::memrchr(b'.', &s[base_start..]) {
        Some(i) if i > 0 => &s[..base_start + i],
        _ => s,
    }
}

/// COMMAND with its placeholders, ready to expand per record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Template {
    /// One template per argument; empty: each record is a shell command line.
    pub args: Vec<ArgTemplate>,
    /// Run as one `sh -c` line (values shell-quoted).
    pub shell: bool,
    /// `--colsep`: split records into columns at these bytes.
    #[serde(with = "serde_bytes")]
    pub colsep: Option<Vec<u8>>,
    /// COMMAND has no placeholder: the record (or its columns) goes last.
    pub append_record: bool,
}

impl Template {
    /// Parses COMMAND. Without a placeholder the record goes last, or with
    /// `--colsep` its columns go last as separate arguments (GNU parallel).
    pub fn new(command: &[Vec<u8>], shell: bool, colsep: Option<Vec<u8>>) -> Template {
        if command.is_empty() {
            // Each record is itself a shell command line.
            return Template {
                args: Vec::new(),
                shell: true,
                colsep: None,
                append_record: false,
            };
        }
        let args: Vec<ArgTemplate> = command.iter().map(|a| parse_arg(a)).collect();
        let append_record = !args.iter().flatten().any(|p| !matches!(p, Piece::Text(_)));
        Template {
            args,
            shell,
            colsep,
            append_record,
        }
    }

    /// The argv (or, in shell mode, the one command line) for a record.
    pub fn expand(&self, record: &[u8], seq: u64, slot: usize) -> Vec<Vec<u8>> {
        if self.args.is_empty() {
            return vec![record.to_vec()];
        }
        let cols: Vec<&[u8]> = match &self.colsep {
            Some(sep) => split_columns(record, sep),
            None => vec![record],
        };
        let value = |p: &Piece| -> Vec<u8> {
            match p {
                Piece::Text(t) => t.clone(),
                Piece::Whole => record.to_vec(),
                Piece::NoExt => strip_ext(record).to_vec(),
                Piece::Base => basename(record).to_vec(),
                Piece::Dir => dirname(record).to_vec(),
                Piece::BaseNoExt => strip_ext(basename(record)).to_vec(),
                Piece::Seq => seq.to_string().into_bytes(),
                Piece::Slot => slot.to_string().into_bytes(),
                Piece::Col(n) => cols.get(n - 1).copied().unwrap_or(b"").to_vec(),
            }
        };
        let mut args: Vec<Vec<u8>> = self
            .args
            .iter()
            .map(|arg| {
                let mut out = Vec::new();
                for p in arg {
                    match p {
                        Piece::Text(t) => out.extend_from_slice(t),
                        _ if self.shell => out.extend(shell_quote(&value(p))),
                        _ => out.extend(value(p)),
                    }
                }
                out
            })
            .collect();
        if self.append_record {
            args.extend(cols.iter().map(|c| {
                if self.shell {
                    shell_quote(c)
                } else {
                    c.to_vec()
                }
            }));
        }
        if self.shell {
            vec![args.join(&b' ')]
        } else {
            args
        }
    }

    /// The command line as a shell would read it (for --dry-run and the joblog).
    pub fn command_line(&self, record: &[u8], seq: u64, slot: usize) -> Vec<u8> {
        let argv = self.expand(record, seq, slot);
        if self.shell {
            argv.join(&b' ')
        } else {
            argv.iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(&b' ')
        }
    }
}

/// Splits a record at every occurrence of `sep` (not empty).
pub fn split_columns<'a>(record: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in memchr::memmem::find_iter(record, sep) {
        if i < start {
            continue;
        }
        out.push(&record[start..i]);
        start = i + sep.len();
    }
    out.push(&record[start..]);
    out
}
