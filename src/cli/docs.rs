//! `mp completions SHELL`, and the shell completions and man pages committed
//! under `completions/` and `man/`, all generated from the clap definitions.
//!
//! The committed files are checked by a test that fails when they drift
//! from the CLI; `MP_BLESS=1 cargo test --bin mp generated_files` rewrites
//! them.

use std::io::Write;

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

/// Arguments of `mp completions`.
#[derive(Debug, Args)]
#[command(
    after_help = "Install (or use the files committed under completions/ in the source):
  bash:  mp completions bash > ~/.local/share/bash-completion/completions/mp
  zsh:   mp completions zsh > ~/.zfunc/_mp   (with fpath+=~/.zfunc before compinit)
  fish:  mp completions fish > ~/.config/fish/completions/mp.fish
  elvish: mp completions elvish >> ~/.config/elvish/rc.elv
  PowerShell: mp completions powershell >> $PROFILE"
)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    shell: ShellArg,
}

/// The shells `mp completions` knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShellArg {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

impl ShellArg {
    fn shell(self) -> Shell {
        match self {
            ShellArg::Bash => Shell::Bash,
            ShellArg::Zsh => Shell::Zsh,
            ShellArg::Fish => Shell::Fish,
            ShellArg::Elvish => Shell::Elvish,
            ShellArg::Powershell => Shell::PowerShell,
        }
    }

    /// The file the completion goes in under `completions/`.
    #[cfg(test)]
    fn file_name(self) -> &'static str {
        match self {
            ShellArg::Bash => "mp.bash",
            ShellArg::Zsh => "_mp",
            ShellArg::Fish => "mp.fish",
            ShellArg::Elvish => "mp.elv",
            ShellArg::Powershell => "_mp.ps1",
        }
    }
}

/// The completion script for `shell`.
fn completion(shell: ShellArg) -> Vec<u8> {
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell.shell(), &mut cmd, "mp", &mut out);
    out
}

/// `mp completions SHELL`: prints the script on stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    out.write_all(&completion(args.shell))?;
    out.flush()?;
    Ok(0)
}

/// Every generated file: its path under the source root and its contents.
#[cfg(test)]
pub fn generated_files() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for shell in ShellArg::value_variants() {
        files.push((
            format!("completions/{}", shell.file_name()),
            completion(*shell),
        ));
    }
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    fn pages(cmd: &clap::Command, files: &mut Vec<(String, Vec<u8>)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            pages(sub, files);
        }
        let man = clap_mangen::Man::new(cmd.clone());
        let mut page = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = man.render(&mut page);
        files.push((format!("man/{}", man.get_filename()), page));
    }
    pages(&cmd, &mut files);
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed completions/ and man/ match the CLI. Set MP_BLESS=1 to
    /// rewrite them after changing an option.
    #[test]
    fn generated_files_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let bless = std::env::var_os("MP_BLESS").is_some_and(|v| v == "1");
        let files = generated_files();
        assert!(files.iter().any(|(p, _)| p == "man/mp-map.1"));
        let mut stale = Vec::new();
        for (path, want) in &files {
            let full = root.join(path);
            if std::fs::read(&full).ok().as_deref() == Some(&want[..]) {
                continue;
            }
            if bless {
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(&full, want).unwrap();
            } else {
                stale.push(path.clone());
            }
        }
        // Files left from a subcommand that is gone.
        for dir in ["completions", "man"] {
            for entry in std::fs::read_dir(root.join(dir)).into_iter().flatten() {
                let entry = entry.unwrap();
                let path = format!("{dir}/{}", entry.file_name().to_string_lossy());
                if !files.iter().any(|(p, _)| *p == path) {
                    if bless {
                        std::fs::remove_file(entry.path()).unwrap();
                    } else {
                        stale.push(path);
                    }
                }
            }
        }
        assert!(
            stale.is_empty(),
            "these generated files differ from the CLI: {stale:?}; regenerate them with \
             MP_BLESS=1 cargo test --bin mp generated_files and commit the result"
        );
    }
}
