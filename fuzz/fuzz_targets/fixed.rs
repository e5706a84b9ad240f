//! Arbitrary bytes as the pool's fixed-width payloads (task arguments and
//! results): a value or an error, never a panic or an allocation beyond the
//! input, and a decoded value encodes back to exactly the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mp::connection::fuzz_fixed_payload(data);
});
