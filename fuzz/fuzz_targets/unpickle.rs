//! Arbitrary bytes into the unpickler: it must return a value or an error,
//! never panic, overflow its stack or allocate beyond its input; and what it
//! decodes must encode and decode again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = mp::pickle::loads(data) {
        let again = mp::pickle::loads(&mp::pickle::dumps(&v)).expect("our own pickle decodes");
        assert_eq!(v, again);
        let _ = mp::pickle::to_json(&v);
    }
});
