//! Arbitrary bytes as a frame stream: headers parse or are refused, and a
//! `Connection` reading them (with a size cap) returns messages or an
//! error, never panics or allocates what the peer never sent.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mp::connection::decode_header(data);
    // Small inputs fit in the socket buffer, so one thread suffices.
    if data.len() > 100_000 {
        return;
    }
    let Ok((a, b)) = mp::pipe(true) else { return };
    let mut raw = std::fs::File::from(a.borrow_fd().expect("open").try_clone_to_owned().expect("dup"));
    let _ = raw.write_all(data);
    drop(raw);
    drop(a);
    while let Ok(m) = b.recv_bytes(Some(1 << 20)) {
        let _ = mp::pickle::loads(&m);
    }
});
