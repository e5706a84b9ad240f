//! CPython's connection handshake (`multiprocessing.connection`
//! `deliver_challenge` / `answer_challenge`): each side proves it knows the
//! shared authkey with an HMAC over a random challenge.
//!
//! Both of CPython's schemes are spoken, in both roles:
//! - legacy (Python ≤ 3.11): a 20-byte challenge, answered with a raw
//!   16-byte HMAC-MD5;
//! - modern (3.12+): a challenge `{sha256}` + 40 random bytes, answered with
//!   `{name}` + HMAC-name over the whole challenge.
//!
//! As a challenger `mp` sends the modern form and accepts any answer CPython
//! accepts: raw HMAC-MD5 (what a 3.11 peer answers, whatever the challenge)
//! or `{md5|sha256|sha384|sha3_256|sha3_384}` + HMAC. As an answerer it
//! answers a 16- or 20-byte challenge with raw HMAC-MD5 and a `{name}`
//! challenge with the same digest. Digests are compared in constant time,
//! lengths first.

use hmac::{Hmac, Mac};

use super::Connection;
use crate::error::{Error, Result};

const CHALLENGE: &[u8] = b"#CHALLENGE#";
const WELCOME: &[u8] = b"#WELCOME#";
const FAILURE: &[u8] = b"#FAILURE#";
/// Every handshake message is read with this limit, as CPython does.
const MAX_AUTH_MESSAGE: usize = 256;
/// Random bytes after `{sha256}` in a modern challenge.
const NONCE_LEN: usize = 40;

fn auth_error(text: impl Into<String>) -> Error {
    Error::Authentication(text.into())
}

/// HMAC of `msg` under `key` with the named digest (None: not one CPython allows).
fn hmac_named(name: &str, key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut m = <M as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }
    Some(match name {
        "md5" => run::<Hmac<md5::Md5>>(key, msg),
        "sha256" => run::<Hmac<sha2::Sha256>>(key, msg),
        "sha384" => run::<Hmac<sha2::Sha384>>(key, msg),
        "sha3_256" => run::<Hmac<sha3::Sha3_256>>(key, msg),
        "sha3_384" => run::<Hmac<sha3::Sha3_384>>(key, msg),
        _ => return None,
    })
}

/// Equal, in time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Splits `{name}rest` (the `}` at index 1..=9, as CPython requires).
fn digest_prefix(msg: &[u8]) -> Option<(&str, &[u8])> {
    if msg.first() != Some(&b'{') {
        return None;
    }
    let end = msg
        .iter()
        .take(10)
        .position(|&b| b == b'}')
        .filter(|&i| i >= 1)?;
    let name = std::str::from_utf8(&msg[1..end]).ok()?;
    Some((name, &msg[end + 1..]))
}

/// The answer to challenge message `msg` (the frame after `#CHALLENGE#`),
/// as `answer_challenge` sends it.
pub fn response_for(key: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
    if msg.len() < 20 && msg.len() != 16 {
        return Err(auth_error(format!(
            "challenge too short: {} bytes",
            msg.len()
        )));
    }
    if msg.len() == 16 || msg.len() == 20 {
        return Ok(hmac_named("md5", key, msg).expect("md5 is known"));
    }
    match digest_prefix(msg) {
        Some((name, _)) => match hmac_named(name, key, msg) {
            Some(mac) => {
                let mut r = format!("{{{name}}}").into_bytes();
                r.extend_from_slice(&mac);
                Ok(r)
            }
            None => Err(auth_error(format!(
                "challenge asks for digest {name:?}, which is not allowed"
            ))),
        },
        None => Err(auth_error(
            "protocol error: the challenge names no digest ({name}...)",
        )),
    }
}

/// Whether `response` proves knowledge of `key` for challenge `msg`, as
/// `deliver_challenge` judges it.
pub fn verify(key: &[u8], msg: &[u8], response: &[u8]) -> bool {
    if response.len() == 16 || response.len() == 20 {
        let mac = hmac_named("md5", key, msg).expect("md5 is known");
        return same(&mac, response);
    }
    match digest_prefix(response) {
        Some((name, mac)) => match hmac_named(name, key, msg) {
            Some(expected) => same(&expected, mac),
            None => false,
        },
        None => false,
    }
}

/// A fresh modern challenge message: `{sha256}` and 40 random bytes.
fn new_challenge() -> Result<Vec<u8>> {
    let mut m = b"{sha256}".to_vec();
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut nonce)
        .map_err(|e| Error::io("getrandom", std::io::Error::other(e.to_string())))?;
    m.extend_from_slice(&nonce);
    Ok(m)
}

/// Python's `deliver_challenge`: challenge the peer, check its answer, and
/// tell it the verdict.
pub fn deliver_challenge(conn: &Connection, key: &[u8]) -> Result<()> {
    deliver_challenge_with(conn, key, &new_challenge()?)
}

pub(crate) fn deliver_challenge_with(conn: &Connection, key: &[u8], msg: &[u8]) -> Result<()> {
    let mut frame = CHALLENGE.to_vec();
    frame.extend_from_slice(msg);
    conn.send_bytes(&frame)?;
    let response = read_auth(conn)?;
    if verify(key, msg, &response) {
        log::debug!("handshake: the peer answered our challenge; welcome");
        conn.send_bytes(WELCOME)?;
        Ok(())
    } else {
        let _ = conn.send_bytes(FAILURE);
        Err(auth_error("digest received was wrong"))
    }
}

/// Python's `answer_challenge`: prove to the peer that we know the key.
pub fn answer_challenge(conn: &Connection, key: &[u8]) -> Result<()> {
    let frame = read_auth(conn)?;
    let Some(msg) = frame.strip_prefix(CHALLENGE) else {
        return Err(auth_error(format!(
            "protocol error: expected a challenge, got {} bytes starting {:?}",
            frame.len(),
            String::from_utf8_lossy(&frame[..frame.len().min(16)])
        )));
    };
    conn.send_bytes(&response_for(key, msg)?)?;
    let verdict = read_auth(conn)?;
    if verdict == WELCOME {
        log::debug!("handshake: our answer was accepted");
        Ok(())
    } else {
        Err(auth_error("digest sent was rejected"))
    }
}

fn read_auth(conn: &Connection) -> Result<Vec<u8>> {
    match conn.recv_bytes(Some(MAX_AUTH_MESSAGE)) {
        Err(Error::TooLong { len, .. }) => Err(auth_error(format!(
            "handshake message of {len} bytes (at most {MAX_AUTH_MESSAGE})"
        ))),
        Err(Error::Eof) => Err(auth_error(
            "the peer closed the connection during the handshake",
        )),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"mp-wire-test-key";

    fn hex(s: &str) -> Vec<u8> {
        crate::pickle::unhex(s).expect("hex")
    }

    /// The deterministic captures of the spec (§2.6).
    #[test]
    fn fixed_vectors() {
        let legacy: Vec<u8> = (0u8..20).collect();
        assert_eq!(
            response_for(KEY, &legacy).unwrap(),
            hex("9698ff2081030edb1828548809109606")
        );
        let mut modern = b"{sha256}".to_vec();
        modern.extend(0u8..40);
        let mut want = b"{sha256}".to_vec();
        want.extend(hex(
            "7738606b393c87bb092bce2ae2fa0dce06a0358ecbcc3b46b689b050bf6dcaca",
        ));
        assert_eq!(response_for(KEY, &modern).unwrap(), want);
        assert!(verify(KEY, &modern, &want));
        // A 3.11 answerer's raw md5 over the modern challenge is accepted.
        assert!(verify(
            KEY,
            &modern,
            &hex("1b73c1ddd4a4d16ba0add01f91c8a2bd")
        ));
        assert!(!verify(b"wrong", &modern, &want));
        assert!(!verify(KEY, &modern, b"{sha256}short"));
        assert!(!verify(
            KEY,
            &modern,
            b"{nope}0123456789012345678901234567890"
        ));
    }

    #[test]
    fn bad_challenges() {
        assert!(response_for(KEY, b"short").is_err());
        assert!(response_for(KEY, b"{whirlpool}0123456789abcdefghij").is_err());
        assert!(response_for(KEY, b"no-prefix-at-all-0123456789").is_err());
    }

    #[test]
    fn both_roles_over_a_pipe() {
        let (a, b) = crate::pipe(true).unwrap();
        let t = std::thread::spawn(move || {
            answer_challenge(&b, KEY).unwrap();
            deliver_challenge(&b, KEY).unwrap();
        });
        deliver_challenge(&a, KEY).unwrap();
        answer_challenge(&a, KEY).unwrap();
        t.join().unwrap();
        let (a, b) = crate::pipe(true).unwrap();
        let t = std::thread::spawn(move || answer_challenge(&b, b"other key"));
        assert!(matches!(
            deliver_challenge(&a, KEY),
            Err(Error::Authentication(_))
        ));
        assert!(matches!(t.join().unwrap(), Err(Error::Authentication(_))));
    }
}
