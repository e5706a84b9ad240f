//! The Python documentation's Listener/Client example, in Rust — and it
//! talks to the Python originals:
//!
//! ```text
//! cargo run --example listener_client -- server [ADDR]   # the docs' server
//! cargo run --example listener_client -- client [ADDR]   # the docs' client
//! ```
//!
//! ADDR defaults to `localhost:6000`, the docs' address; the key is the
//! docs' `b'secret password'`. The server sends `[2.25, None, 'junk',
//! float]` (`float` is the Python class: a pickled global), `b'hello'` and
//! the bytes of `array('i', [42, 1729])`; the client prints them, reading
//! the last into a 5-int buffer as `recv_bytes_into` does.

use mp::connection::{client, Address, Listener};
use mp::pickle::Value;

const KEY: &[u8] = b"secret password";

fn main() {
    mp::freeze_support();
    let args: Vec<String> = std::env::args().collect();
    let role = args.get(1).map(String::as_str).unwrap_or("");
    let address: Address = match args
        .get(2)
        .map(String::as_str)
        .unwrap_or("localhost:6000")
        .parse()
    {
        Ok(a) => a,
        Err(e) => {
            eprintln!("listener_client: {e}");
            std::process::exit(2);
        }
    };
    let r = match role {
        "server" => server(&address),
        "client" => client_side(&address),
        _ => {
            eprintln!("usage: listener_client server|client [ADDR]");
            std::process::exit(2);
        }
    };
    if let Err(e) = r {
        eprintln!("listener_client: {e}");
        std::process::exit(1);
    }
}

fn server(address: &Address) -> mp::Result<()> {
    let mut listener = Listener::bind(address, Some(KEY))?;
    eprintln!("listening on {}", listener.address());
    let conn = listener.accept()?;
    println!(
        "connection accepted from {}",
        listener.last_accepted().expect("just accepted")
    );
    conn.send_value(&Value::List(vec![
        Value::Float(2.25),
        Value::None,
        Value::str("junk"),
        Value::global("builtins", "float"),
    ]))?;
    conn.send_bytes(b"hello")?;
    let ints: Vec<u8> = [42i32, 1729].iter().flat_map(|i| i.to_ne_bytes()).collect();
    conn.send_bytes(&ints)
}

fn client_side(address: &Address) -> mp::Result<()> {
    let conn = client(address, Some(KEY))?;
    println!(
        "{}",
        serde_json::to_string(&mp::pickle::to_json(&conn.recv_value()?)).unwrap()
    );
    println!("{}", String::from_utf8_lossy(&conn.recv_bytes(None)?));
    let mut buf = [0u8; 5 * 4];
    let n = conn.recv_bytes_into(&mut buf)?;
    println!("{n}");
    let arr: Vec<i32> = buf
        .chunks_exact(4)
        .map(|c| i32::from_ne_bytes(c.try_into().expect("4 bytes")))
        .collect();
    println!("{arr:?}");
    Ok(())
}
