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
    /// `-X`: a word holding `{}` (or `{.}`...) is repeated for each value
    /// (context replace); otherwise the values are separate words, the
    /// word's text before and after joining the first and the last.
    pub context: bool,
}

/// Whether a placeholder takes every value (`{}`, `{.}`, ...) rather than
/// one (`{1}`) or none (`{#}`).
fn takes_all(p: &Piece) -> bool {
    matches!(
        p,
        Piece::Whole | Piece::NoExt | Piece::Base | Piece::Dir | Piece::BaseNoExt
    )
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
                context: false,
            };
        }
        let args: Vec<ArgTemplate> = command.iter().map(|a| parse_arg(a)).collect();
        let append_record = !args.iter().flatten().any(|p| !matches!(p, Piece::Text(_)));
        Template {
            args,
            shell,
            colsep,
            append_record,
            context: false,
        }
    }

    /// How many placeholders take every value (at least 1: the appended
    /// record), to reckon a batch's command-line length.
    pub fn uses_per_value(&self) -> usize {
        self.args
            .iter()
            .flatten()
            .filter(|p| takes_all(p))
            .count()
            .max(1)
    }

    /// The values of a task: its arguments (one per source, for each record
    /// of a batch), each split into columns with `--colsep`.
    fn values<'a>(&self, args: &'a [Vec<u8>]) -> Vec<&'a [u8]> {
        match &self.colsep {
            Some(sep) => args.iter().flat_map(|a| split_columns(a, sep)).collect(),
            None => args.iter().map(Vec::as_slice).collect(),
        }
    }

    /// The argv (or, in shell mode, the one command line) for a task whose
    /// record (or records, values of several sources) is `args`.
    pub fn expand(&self, args: &[Vec<u8>], seq: u64, slot: usize) -> Vec<Vec<u8>> {
        if self.args.is_empty() {
            return vec![args.join(&b' ')];
        }
        let values = self.values(args);
        let one = |p: &Piece, v: &[u8]| -> Vec<u8> {
            match p {
                Piece::Whole => v.to_vec(),
                Piece::NoExt => strip_ext(v).to_vec(),
                Piece::Base => basename(v).to_vec(),
                Piece::Dir => dirname(v).to_vec(),
                Piece::BaseNoExt => strip_ext(basename(v)).to_vec(),
                _ => Vec::new(),
            }
        };
        let quote = |v: Vec<u8>| if self.shell { shell_quote(&v) } else { v };
        // A word's expansion: one or more words (a placeholder taking
        // several values splits the word between them).
        let expand_word = |word: &[Piece], values: &[&[u8]], out: &mut Vec<Vec<u8>>| {
            // A word that is one positional placeholder past the values is
            // left out, as GNU does (`-n 2 echo {2} {1}` on a last single record).
            if let [Piece::Col(n)] = word {
                if *n > values.len() {
                    return;
                }
            }
            let mut cur = Vec::new();
            for p in word {
                match p {
                    Piece::Text(t) => cur.extend_from_slice(t),
                    Piece::Seq => cur.extend(quote(seq.to_string().into_bytes())),
                    Piece::Slot => cur.extend(quote(slot.to_string().into_bytes())),
                    Piece::Col(n) => {
                        cur.extend(quote(values.get(n - 1).copied().unwrap_or(b"").to_vec()))
                    }
                    p => {
                        for (i, v) in values.iter().enumerate() {
                            if i > 0 {
                                if self.shell {
                                    cur.push(b' ');
                                } else {
                                    out.push(std::mem::take(&mut cur));
                                }
                            }
                            cur.extend(quote(one(p, v)));
                        }
                    }
                }
            }
            out.push(cur);
        };
        let mut out: Vec<Vec<u8>> = Vec::with_capacity(self.args.len() + values.len());
        for arg in &self.args {
            if self.context && values.len() > 1 && arg.iter().any(takes_all) {
                let words = if self.shell {
                    split_words(arg)
                } else {
                    vec![Word::Word(arg.clone())]
                };
                let mut line = Vec::new();
                for w in words {
                    match w {
                        Word::Space(s) => line.push(s),
                        Word::Word(w) if w.iter().any(takes_all) => {
                            for (i, v) in values.iter().enumerate() {
                                let mut one_word = Vec::new();
                                expand_word(&w, &[v], &mut one_word);
                                if self.shell {
                                    if i > 0 {
                                        line.push(b" ".to_vec());
                                    }
                                    line.extend(one_word);
                                } else {
                                    out.extend(one_word);
                                }
                            }
                        }
                        Word::Word(w) => expand_word(&w, &values, &mut line),
                    }
                }
                if self.shell {
                    out.push(line.concat());
                }
            } else {
                expand_word(arg, &values, &mut out);
            }
        }
        if self.append_record {
            out.extend(values.iter().map(|v| quote(v.to_vec())));
        }
        if self.shell {
            vec![out.join(&b' ')]
        } else {
            out
        }
    }

    /// The command line as a shell would read it (for --dry-run and the joblog).
    pub fn command_line(&self, args: &[Vec<u8>], seq: u64, slot: usize) -> Vec<u8> {
        let argv = self.expand(args, seq, slot);
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

/// A shell-mode argument cut at blanks, for `-X`'s context replace.
enum Word {
    Word(ArgTemplate),
    Space(Vec<u8>),
}

/// Splits a shell-mode argument into words and the blanks between them.
fn split_words(arg: &[Piece]) -> Vec<Word> {
    let mut out = Vec::new();
    let mut word: ArgTemplate = Vec::new();
    for p in arg {
        let Piece::Text(t) = p else {
            word.push(p.clone());
            continue;
        };
        let mut rest = &t[..];
        while !rest.is_empty() {
            let blank = |b: &u8| b.is_ascii_whitespace();
            match rest.iter().position(blank) {
                None => {
                    word.push(Piece::Text(rest.to_vec()));
                    rest = &[];
                }
                Some(i) => {
                    if i > 0 {
                        word.push(Piece::Text(rest[..i].to_vec()));
                    }
                    if !word.is_empty() {
                        out.push(Word::Word(std::mem::take(&mut word)));
                    }
                    let end = rest[i..]
                        .iter()
                        .position(|b| !blank(b))
                        .map_or(rest.len(), |j| i + j);
                    out.push(Word::Space(rest[i..end].to_vec()));
                    rest = &rest[end..];
                }
            }
        }
    }
    if !word.is_empty() {
        out.push(Word::Word(word));
    }
    out
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
