//! `meltc-run`, the runtime shipped in the generated image. Not built yet: it will run the
//! jobs of a manifest written by `meltc build` (see the runtime issue). Until then it says so
//! and fails, so that nothing mistakes it for a working runtime. The hidden `dev-pipe`
//! command drives the pipe module alone (`bench/pipe`, the pipe tests).

use std::process::ExitCode;

#[allow(clippy::print_stderr, reason = "the binary's only output")]
fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|command| command == "dev-pipe") {
        return meltc::runtime::dev::dev_pipe(args.collect());
    }
    eprintln!(
        "meltc-run {}: the runtime is not implemented yet (it needs the manifest of `meltc build`)",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
