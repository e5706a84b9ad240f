//! Which build of the program this process runs.
//!
//! Task functions cross processes as offsets inside the executable
//! ([`crate::context`]), which is only sound when both ends run the very same
//! build. Spawn and the forkserver re-run `/proc/self/exe`, so they do unless
//! something is off (the program was started through a loader or emulator, so
//! `/proc/self/exe` is not the program itself). A child therefore checks the
//! parent's build identity before it turns any offset back into a function.
//!
//! The identity is the ELF build-id note (`.note.gnu.build-id`, the id
//! `readelf -n` and `file` print) of the object that holds `mp`'s code, found
//! through `dl_iterate_phdr`. A binary linked without one gets a digest of its
//! file's identity (device, inode, size, modification time) and of where
//! `mp`'s code sits in it. Either is computed once per process, on first use
//! (measured: 2 µs in a release build, most of it the first touch of the
//! note's page; 20 µs for the file digest, a `stat`).

use std::ffi::CStr;
use std::fmt;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The longest identity kept as is; a longer build-id is digested to this size.
const MAX: usize = 32;

/// The identity's size on the wire: its kind, its length, and [`MAX`] bytes.
pub(crate) const WIRE_LEN: usize = 2 + MAX;

/// A build identity; see the [module docs](self).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct BuildId {
    kind: u8,
    len: u8,
    bytes: [u8; MAX],
}

/// The ELF build-id note.
const KIND_NOTE: u8 = b'N';
/// A digest of the file's identity and the code's offset in it.
const KIND_FILE: u8 = b'F';

impl BuildId {
    /// This process's identity, computed on first use.
    pub(crate) fn current() -> &'static BuildId {
        static CURRENT: OnceLock<BuildId> = OnceLock::new();
        CURRENT.get_or_init(compute)
    }

    fn new(kind: u8, id: &[u8]) -> BuildId {
        let mut bytes = [0; MAX];
        let len = if id.len() <= MAX {
            bytes[..id.len()].copy_from_slice(id);
            id.len()
        } else {
            bytes.copy_from_slice(&Sha256::digest(id));
            MAX
        };
        BuildId {
            kind,
            len: len as u8,
            bytes,
        }
    }

    /// The fixed-size form sent at the front of a child's spec.
    pub(crate) fn to_wire(self) -> [u8; WIRE_LEN] {
        let mut out = [0; WIRE_LEN];
        out[0] = self.kind;
        out[1] = self.len;
        out[2..].copy_from_slice(&self.bytes);
        out
    }

    /// Reads the form [`to_wire`](Self::to_wire) writes; whatever the bytes
    /// are (a peer of another build may send anything), the result can be
    /// compared and shown.
    pub(crate) fn from_wire(wire: &[u8]) -> BuildId {
        let mut out = BuildId {
            kind: wire.first().copied().unwrap_or(0),
            len: 0,
            bytes: [0; MAX],
        };
        let body = wire.get(2..).unwrap_or(&[]);
        let n = body.len().min(MAX);
        out.bytes[..n].copy_from_slice(&body[..n]);
        out.len = wire.get(1).map_or(0, |&l| l.min(MAX as u8));
        out
    }

    /// Splits a message sent with [`to_wire`](Self::to_wire) at its front
    /// into the sender's identity and the rest, and checks the identity
    /// against this process's.
    pub(crate) fn check_prefix(message: &[u8]) -> crate::Result<&[u8]> {
        let (wire, rest) = message.split_at(message.len().min(WIRE_LEN));
        let theirs = BuildId::from_wire(wire);
        let ours = *BuildId::current();
        if wire.len() < WIRE_LEN || theirs != ours {
            return Err(crate::Error::BuildMismatch {
                parent: theirs.to_string(),
                child: ours.to_string(),
            });
        }
        Ok(rest)
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            KIND_NOTE => f.write_str("build-id ")?,
            KIND_FILE => f.write_str("file digest ")?,
            _ => f.write_str("unknown identity ")?,
        }
        for b in &self.bytes[..self.len as usize] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The loaded object holding `mp`'s code, as `dl_iterate_phdr` shows it.
struct Found {
    /// The build-id note, if the object has one.
    note: Option<Vec<u8>>,
    /// The object's file (`None`: the main program).
    path: Option<std::path::PathBuf>,
    /// How far into the object `mp`'s code is.
    offset: usize,
}

fn compute() -> BuildId {
    let found = find_object(here as fn() as usize);
    if let Some(note) = found.as_ref().and_then(|f| f.note.as_deref()) {
        return BuildId::new(KIND_NOTE, note);
    }
    let (path, offset) = match found {
        Some(f) => (f.path, f.offset),
        None => (None, usize::MAX),
    };
    file_digest(&path.unwrap_or_else(|| "/proc/self/exe".into()), offset)
}

/// The identity of a binary without a build-id note: its file (device,
/// inode, size, modification time) and where `mp`'s code sits in it.
fn file_digest(path: &std::path::Path, offset: usize) -> BuildId {
    let mut h = Sha256::new();
    h.update(offset.to_le_bytes());
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        for v in [
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime() as u64,
            m.mtime_nsec() as u64,
        ] {
            h.update(v.to_le_bytes());
        }
    }
    BuildId::new(KIND_FILE, &h.finalize()[..16])
}

/// A function of this crate: its address says which loaded object is ours.
#[inline(never)]
fn here() {}

/// The loaded object whose code contains `addr`, with its build-id note.
fn find_object(addr: usize) -> Option<Found> {
    struct Search {
        addr: usize,
        found: Option<Found>,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid `dl_phdr_info` for the
        // duration of the call, and `data` is the `Search` given below.
        let (info, search) = unsafe { (&*info, &mut *(data as *mut Search)) };
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: the loader's program headers: `dlpi_phnum` of them at `dlpi_phdr`.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        let base = info.dlpi_addr as usize;
        // Whether `len` bytes at `at` lie in one of the object's loaded segments.
        let loaded = |at: usize, len: usize| {
            phdrs.iter().any(|p| {
                let start = base.wrapping_add(p.p_vaddr as usize);
                p.p_type == libc::PT_LOAD
                    && at >= start
                    && (at - start)
                        .checked_add(len)
                        .is_some_and(|end| end <= p.p_memsz as usize)
            })
        };
        if !loaded(search.addr, 1) {
            return 0;
        }
        let note = phdrs
            .iter()
            .filter(|p| p.p_type == libc::PT_NOTE)
            .find_map(|p| {
                let (start, len) = (base.wrapping_add(p.p_vaddr as usize), p.p_filesz as usize);
                if !loaded(start, len) {
                    return None;
                }
                // SAFETY: the note segment lies inside a loaded segment of
                // the object (checked just above), mapped for as long as the
                // object is loaded, and the object holds this very code.
                let notes = unsafe { std::slice::from_raw_parts(start as *const u8, len) };
                gnu_build_id(notes, p.p_align as usize)
            });
        let path = if info.dlpi_name.is_null() {
            None
        } else {
            // SAFETY: the loader's name for the object, a NUL-terminated string.
            let name = unsafe { CStr::from_ptr(info.dlpi_name) };
            (!name.is_empty()).then(|| {
                use std::os::unix::ffi::OsStrExt;
                std::ffi::OsStr::from_bytes(name.to_bytes()).into()
            })
        };
        search.found = Some(Found {
            note,
            path,
            offset: search.addr.wrapping_sub(base),
        });
        1
    }
    let mut search = Search { addr, found: None };
    // SAFETY: `visit` only reads what the loader hands it, and `search`
    // outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), &mut search as *mut Search as *mut libc::c_void) };
    search.found
}

/// The descriptor of the `NT_GNU_BUILD_ID` note in a PT_NOTE segment's bytes.
fn gnu_build_id(mut notes: &[u8], align: usize) -> Option<Vec<u8>> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let align = if align == 8 { 8 } else { 4 };
    let pad = |n: usize| n.checked_add(align - 1).map(|n| n & !(align - 1));
    let word = |b: &[u8], i: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
    };
    while notes.len() >= 12 {
        let namesz = word(notes, 0)? as usize;
        let descsz = word(notes, 4)? as usize;
        let kind = word(notes, 8)?;
        let name_end = 12usize.checked_add(namesz)?;
        let desc_start = pad(name_end)?;
        let desc_end = desc_start.checked_add(descsz)?;
        let name = notes.get(12..name_end)?;
        let desc = notes.get(desc_start..desc_end)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" && !desc.is_empty() {
            return Some(desc.to_vec());
        }
        notes = notes.get(pad(desc_end)?.min(notes.len())..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_binary_and_is_stable() {
        let id = *BuildId::current();
        assert_eq!(&id, BuildId::current());
        assert!(id.len > 0);
        // The test binaries are linked with a build-id note (Debian's and
        // most distributions' linkers add one); its id is what readelf shows.
        if id.kind == KIND_NOTE {
            assert!(id.to_string().starts_with("build-id "), "{id}");
        }
        assert_eq!(BuildId::from_wire(&id.to_wire()), id);
    }

    #[test]
    fn check_prefix_refuses_another_build() {
        let ours = *BuildId::current();
        let mut message = ours.to_wire().to_vec();
        message.extend_from_slice(b"spec");
        assert_eq!(BuildId::check_prefix(&message).unwrap(), b"spec");

        message[2] ^= 0xff;
        let err = BuildId::check_prefix(&message).unwrap_err().to_string();
        assert!(err.contains("different build"), "{err}");
        assert!(err.contains(&format!("child build {ours}")), "{err}");
        assert!(!err.contains(&format!("parent build {ours}")), "{err}");

        // Too short to hold an identity at all (a sender that predates it).
        assert!(matches!(
            BuildId::check_prefix(b"abc"),
            Err(crate::Error::BuildMismatch { .. })
        ));
    }

    #[test]
    fn note_parsing() {
        let mut notes = Vec::new();
        // A note of another kind first, then the build-id.
        for (name, kind, desc) in [
            (&b"GNU\0"[..], 5u32, &[1u8, 2, 3, 4, 5, 6, 7, 8][..]),
            (&b"GNU\0"[..], 3u32, &[0xab, 0xcd, 0xef][..]),
        ] {
            notes.extend_from_slice(&(name.len() as u32).to_ne_bytes());
            notes.extend_from_slice(&(desc.len() as u32).to_ne_bytes());
            notes.extend_from_slice(&kind.to_ne_bytes());
            notes.extend_from_slice(name);
            notes.extend_from_slice(desc);
            while notes.len() % 4 != 0 {
                notes.push(0);
            }
        }
        assert_eq!(gnu_build_id(&notes, 4), Some(vec![0xab, 0xcd, 0xef]));
        assert_eq!(gnu_build_id(&notes[..20], 4), None);
        assert_eq!(gnu_build_id(&[0xff; 40], 4), None);
    }

    #[test]
    fn file_digest_without_a_note() {
        let exe = std::path::Path::new("/proc/self/exe");
        let a = file_digest(exe, 4096);
        assert_eq!(a, file_digest(exe, 4096));
        assert_ne!(a, file_digest(exe, 8192));
        assert!(a.to_string().starts_with("file digest "), "{a}");
        let other = tempfile::NamedTempFile::new().unwrap();
        assert_ne!(a, file_digest(other.path(), 4096));
    }

    #[test]
    fn long_ids_are_digested() {
        let long = BuildId::new(KIND_NOTE, &[7; 40]);
        assert_eq!(long.len as usize, MAX);
        assert_ne!(long, BuildId::new(KIND_NOTE, &[7; 41]));
    }
}
