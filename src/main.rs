//! The `mp` command: a thin wrapper over the `mp` library.

mod cli;

fn main() {
    // A copy of this program started by spawn or the forkserver becomes the child here.
    mp::freeze_support();
    std::process::exit(cli::run());
}
