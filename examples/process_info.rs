//! The docs' second example: show the module, the parent's pid and the pid,
//! in the parent and in a child.
//!
//! ```python
//! def info(title):
//!     print(title)
//!     print('module name:', __name__)
//!     print('parent process:', os.getppid())
//!     print('process id:', os.getpid())
//!
//! def f(name):
//!     info('function f')
//!     print('hello', name)
//!
//! if __name__ == '__main__':
//!     info('main line')
//!     p = Process(target=f, args=('bob',))
//!     p.start()
//!     p.join()
//! ```
//!
//! Run: `cargo run --example process_info [fork|spawn|forkserver]`.
//! Under the default forkserver, a child's OS parent (`getppid`) is the
//! forkserver; `mp::parent_process()` names the process that started it.

use mp::Process;

fn info(title: &str) {
    println!("{title}");
    println!("module name: {}", module_path!());
    println!("parent process: {}", std::os::unix::process::parent_id());
    if let Some(parent) = mp::parent_process() {
        println!("mp parent process: {} ({})", parent.pid(), parent.name());
    }
    println!("process id: {}", std::process::id());
}

fn f(name: String) {
    info("function f");
    println!("hello {name}");
}

fn main() {
    mp::freeze_support();
    if let Some(method) = std::env::args().nth(1) {
        let method = method.parse().unwrap_or_else(|e| {
            eprintln!("process_info: {e}");
            std::process::exit(2);
        });
        mp::set_start_method(method, false).expect("first and only set");
    }
    info("main line");
    let p = Process::new(f, "bob".to_string());
    p.start().expect("start the child");
    p.join(None).expect("join the child");
}
