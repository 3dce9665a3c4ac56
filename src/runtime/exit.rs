//! meltc-run's exit codes: the one list, which the command line returns and the generated
//! CronJob's `podFailurePolicy` reads (`emit::k8s::cronjob` imports [`RunExit::FINAL`]), so the
//! two cannot drift apart.

use std::process::ExitCode;

/// How a `meltc-run` process ends (README, "meltc-run").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// Every step ran.
    Success,
    /// A step failed: a plugin, state, the catalog.
    Failed,
    /// Usage, a manifest that cannot be read, a configuration that cannot be worked out (a
    /// missing variable): the same run fails the same way again.
    Usage,
    /// Another run holds a state ID's run lease: nothing ran for that step (sysexits'
    /// `EX_TEMPFAIL`, try again later).
    LeaseHeld,
}

impl RunExit {
    /// Every exit, in code order.
    pub const ALL: [RunExit; 4] = [
        RunExit::Success,
        RunExit::Failed,
        RunExit::Usage,
        RunExit::LeaseHeld,
    ];

    /// The exits a retry of the pod cannot help: a configuration error fails again, and while
    /// another run holds the lease a retry would only wait for it (the next scheduled run starts
    /// normally). The CronJob's `podFailurePolicy` fails the Job at once on these.
    pub const FINAL: [RunExit; 2] = [RunExit::Usage, RunExit::LeaseHeld];

    /// The process exit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            RunExit::Success => 0,
            RunExit::Failed => 1,
            RunExit::Usage => 2,
            RunExit::LeaseHeld => 75,
        }
    }
}

impl From<RunExit> for ExitCode {
    fn from(exit: RunExit) -> Self {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::RunExit;

    #[test]
    fn codes_are_distinct_and_final_ones_are_errors() {
        let mut codes: Vec<u8> = RunExit::ALL.iter().map(|exit| exit.code()).collect();
        codes.dedup();
        assert_eq!(codes, [0, 1, 2, 75]);
        assert!(!RunExit::FINAL.contains(&RunExit::Success));
        assert!(
            !RunExit::FINAL.contains(&RunExit::Failed),
            "a failed step may pass on retry"
        );
    }
}
