//! `meltc-run`, the runtime shipped in the generated image: runs the jobs of a manifest written
//! by `meltc build` (`meltc::runtime::cli`).

fn main() -> std::process::ExitCode {
    meltc::runtime::cli::main()
}
