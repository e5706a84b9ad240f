//! The first example of Python's multiprocessing docs:
//!
//! ```python
//! from multiprocessing import Process
//!
//! def f(name):
//!     print('hello', name)
//!
//! if __name__ == '__main__':
//!     p = Process(target=f, args=('bob',))
//!     p.start()
//!     p.join()
//! ```
//!
//! Run: `cargo run --example process_hello`

use mp::Process;

fn f(name: String) {
    println!("hello {name}");
}

fn main() {
    // Python's `if __name__ == '__main__'`: a spawned or forkserver child stops here.
    mp::freeze_support();
    let p = Process::new(f, "bob".to_string());
    p.start().expect("start the child");
    p.join(None).expect("join the child");
}
