//! Starting the children with their pipes wired, and stopping them.

use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};

use rustix::process::{Pid, Signal};

use super::{PipeError, Plugin, Relay};

/// The started processes and the pipe ends this process keeps.
pub(super) struct Spawned {
    /// In pipeline order.
    pub(super) children: Vec<Child>,
    /// [`Relay::Counting`]: the tap's stdout and the next process's stdin, for the relay.
    pub(super) relay_ends: Option<(ChildStdout, ChildStdin)>,
    /// The target's stdout: state lines.
    pub(super) target_stdout: Option<ChildStdout>,
    /// Each child's stderr, in pipeline order.
    pub(super) stderrs: Vec<Option<ChildStderr>>,
}

/// Start every plugin, each in a new process group, stdout to the next stdin. On a failure
/// the processes already started are killed and reaped before the error returns.
pub(super) fn spawn_all(plugins: &[Plugin], relay: Relay) -> Result<Spawned, PipeError> {
    let counting = relay == Relay::Counting;
    let last = plugins.len() - 1;
    let mut spawned = Spawned {
        children: Vec::with_capacity(plugins.len()),
        relay_ends: None,
        target_stdout: None,
        stderrs: Vec::with_capacity(plugins.len()),
    };
    let mut tap_stdout = None;
    let mut previous_stdout: Option<ChildStdout> = None;
    for (index, plugin) in plugins.iter().enumerate() {
        let stdin = match index {
            0 => Stdio::null(),
            1 if counting => Stdio::piped(),
            // The upstream pipe's read end moves into the child; the `Command` holding it is
            // dropped at the end of this iteration, closing this process's copy.
            _ => previous_stdout.take().map_or_else(Stdio::null, Stdio::from),
        };
        let mut command = Command::new(&plugin.program);
        command
            .args(&plugin.args)
            .env_clear()
            .envs(&plugin.env)
            .current_dir(&plugin.cwd)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(source) => {
                stop_now(&mut spawned.children);
                return Err(PipeError::Spawn {
                    plugin: plugin.name.clone(),
                    program: plugin.program.display().to_string(),
                    source,
                });
            }
        };
        let stdout = child.stdout.take();
        if index < last {
            if let Some(stdout) = &stdout {
                enlarge(stdout);
            }
        }
        if index == 1 && counting {
            if let Some(stdin) = &child.stdin {
                enlarge(stdin);
            }
        }
        if index == last {
            spawned.target_stdout = stdout;
        } else if index == 0 && counting {
            tap_stdout = stdout;
        } else {
            previous_stdout = stdout;
        }
        if index == 1 && counting {
            if let (Some(from), Some(to)) = (tap_stdout.take(), child.stdin.take()) {
                spawned.relay_ends = Some((from, to));
            }
        }
        spawned.stderrs.push(child.stderr.take());
        spawned.children.push(child);
    }
    Ok(spawned)
}

/// The data path's pipes get the largest size an unprivileged process may set (Linux's
/// `pipe-max-size`, 1 MiB by default, against 64 KiB): fewer wake-ups of the processes on
/// either side. Best effort: a refusal leaves the default.
fn enlarge(pipe: &impl std::os::fd::AsFd) {
    let _ = rustix::pipe::fcntl_setpipe_size(pipe, 1 << 20);
}

/// Send `signal` to the process group of `child` (the child and what it started).
/// A group that is gone already is no error.
pub(super) fn signal_group(child: &Child, signal: Signal) {
    let group = Pid::from_child(child);
    // ESRCH (nothing left in the group) is the expected race: ignore every error, there is
    // nothing better to do with one here.
    let _ = rustix::process::kill_process_group(group, signal);
}

/// Kill and reap `children` at once (after a failed start).
pub(super) fn stop_now(children: &mut [Child]) {
    for child in children.iter() {
        signal_group(child, Signal::KILL);
    }
    for child in children.iter_mut() {
        let _ = child.wait();
    }
}
