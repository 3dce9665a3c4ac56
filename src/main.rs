//! The `meltc` binary: everything happens in [`meltc::cli`].

fn main() -> std::process::ExitCode {
    meltc::cli::main()
}
