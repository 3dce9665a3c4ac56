//! `meltc-run`, the runtime shipped in the generated image. Not built yet: it will run the
//! jobs of a manifest written by `meltc build` (see the runtime issue). Until then it says so
//! and fails, so that nothing mistakes it for a working runtime.

use std::process::ExitCode;

#[allow(clippy::print_stderr, reason = "the binary's only output")]
fn main() -> ExitCode {
    eprintln!(
        "meltc-run {}: the runtime is not implemented yet (it needs the manifest of `meltc build`)",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
