//! The docs' Pipe example: a child sends a message to its parent.
//!
//! ```python
//! from multiprocessing import Process, Pipe
//!
//! def f(conn):
//!     conn.send([42, None, 'hello'])
//!     conn.close()
//!
//! if __name__ == '__main__':
//!     parent_conn, child_conn = Pipe()
//!     p = Process(target=f, args=(child_conn,))
//!     p.start()
//!     print(parent_conn.recv())   # prints "[42, None, 'hello']"
//!     p.join()
//! ```
//!
//! Python's list `[42, None, 'hello']` mixes types; in Rust it is a tuple.
//! Run: `cargo run --example pipe`

use mp::{Connection, Process};

fn f(mut conn: Connection) {
    conn.send(&(42, None::<i32>, "hello"))
        .expect("send to the parent");
    conn.close();
}

fn main() {
    mp::freeze_support();
    let (parent_conn, child_conn) = mp::pipe(true).expect("create a pipe");
    let p = Process::new(f, child_conn);
    p.start().expect("start the child");
    let got: (i32, Option<i32>, String) = parent_conn.recv().expect("receive from the child");
    println!("{got:?}"); // prints "(42, None, "hello")"
    p.join(None).expect("join the child");
}
