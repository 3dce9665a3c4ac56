//! A pod's container run as the kubelet would run it, inside an image's root filesystem under
//! bubblewrap (Debian's `bubblewrap`; no daemon, no registry): the command line and
//! environment from [`super::kubelet`], the user and group of the pod's `securityContext`
//! (a new user namespace, every capability dropped, `no_new_privs`), the root filesystem
//! read-only when `readOnlyRootFilesystem` says so, each `emptyDir` volume an empty writable
//! tmpfs, `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` written as the kubelet writes
//! them, new PID, IPC and UTS namespaces, and no other environment.
//!
//! The network namespace is the host's, so that the pod reaches the test's PostgreSQL and
//! Garage on loopback (a pod reaches its cluster's services the same way, through addresses it
//! is given). Not modelled: the seccomp profile, resource limits (cgroups) and `fsGroup`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, PodSpec};

/// What one container run left.
pub struct Exit {
    /// The exit code (`None`: killed by a signal or by the deadline).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
    /// When the first Singer `RECORD` line reached the container's stdout (a tap run with
    /// `meltc-run invoke`), from the start, to within 10 ms.
    pub first_record: Option<Duration>,
}

/// A file of the host bound read-only into the sandbox (a ConfigMap volume, say).
pub struct Mount {
    pub host: PathBuf,
    pub sandbox: String,
}

/// What to start in the container.
pub struct Launch<'a> {
    /// The command line (the kubelet's: [`super::kubelet::command_line`]).
    pub command: &'a [String],
    /// Exactly the process environment.
    pub env: &'a [(String, String)],
    pub working_dir: &'a str,
    /// Files bound read-only besides the pod's volumes.
    pub extra: &'a [Mount],
    /// Killed after this long.
    pub deadline: Duration,
}

/// Run `launch` in `rootfs` under `pod`'s and `container`'s security context.
pub fn run(rootfs: &Path, pod: &PodSpec, container: &Container, launch: &Launch<'_>) -> Exit {
    let Launch {
        command,
        env,
        working_dir,
        extra,
        deadline,
    } = *launch;
    let pod_security = pod.security_context.clone().unwrap_or_default();
    let security = container.security_context.clone().unwrap_or_default();
    let uid = security
        .run_as_user
        .or(pod_security.run_as_user)
        .expect("the pod sets runAsUser");
    let gid = security
        .run_as_group
        .or(pod_security.run_as_group)
        .expect("the pod sets runAsGroup");
    assert_ne!(uid, 0, "runAsNonRoot");
    let read_only = security.read_only_root_filesystem == Some(true);
    let scratch = tempfile::tempdir().expect("temp dir");
    let hostname = "lakehouse-pod";
    let files = [
        (
            "hosts",
            format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t{hostname}\n"
            ),
        ),
        ("hostname", format!("{hostname}\n")),
        (
            "resolv.conf",
            "nameserver 127.0.0.53\noptions ndots:5\n".to_owned(),
        ),
    ];
    let mut args: Vec<String> = vec![
        if read_only { "--ro-bind" } else { "--bind" }.to_owned(),
        rootfs.display().to_string(),
        "/".to_owned(),
        "--dev".to_owned(),
        "/dev".to_owned(),
        "--proc".to_owned(),
        "/proc".to_owned(),
    ];
    for (name, text) in &files {
        let host = scratch.path().join(name);
        fs_err::write(&host, text).expect("kubelet file");
        // The runtime makes the mount point in the container's layer before the root turns
        // read-only; so does this.
        let target = rootfs.join("etc").join(name);
        if !target.exists() {
            fs_err::write(&target, "").expect("mount point");
        }
        args.extend([
            "--ro-bind".to_owned(),
            host.display().to_string(),
            format!("/etc/{name}"),
        ]);
    }
    for mount in container.volume_mounts.iter().flatten() {
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|volume| volume.name == mount.name)
            .unwrap_or_else(|| panic!("no volume {}", mount.name));
        assert!(
            volume.empty_dir.is_some(),
            "volume {}: only emptyDir is modelled",
            volume.name
        );
        // An emptyDir is an empty folder writable by the pod (mode 0777).
        args.extend([
            "--perms".to_owned(),
            "0777".to_owned(),
            "--tmpfs".to_owned(),
            mount.mount_path.clone(),
        ]);
    }
    for mount in extra {
        args.extend([
            "--ro-bind".to_owned(),
            mount.host.display().to_string(),
            mount.sandbox.clone(),
        ]);
    }
    args.extend(
        [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup",
            "--hostname",
            hostname,
            "--uid",
            &uid.to_string(),
            "--gid",
            &gid.to_string(),
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--chdir",
            working_dir,
        ]
        .map(str::to_owned),
    );
    for (name, value) in env {
        args.extend(["--setenv".to_owned(), name.clone(), value.clone()]);
    }
    args.push("--".to_owned());
    args.extend(command.iter().cloned());
    let stdout = scratch.path().join("stdout");
    let stderr = scratch.path().join("stderr");
    let started = Instant::now();
    let mut child = Command::new(bwrap())
        .args(&args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(fs_err::File::create(&stdout).unwrap().into_parts().0)
        .stderr(fs_err::File::create(&stderr).unwrap().into_parts().0)
        .spawn()
        .expect("bwrap starts");
    let mut first_record = None;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        if first_record.is_none() && has_record(&stdout) {
            first_record = Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if first_record.is_none() && has_record(&stdout) {
        first_record = Some(started.elapsed());
    }
    Exit {
        code,
        stdout: fs_err::read_to_string(&stdout).unwrap_or_default(),
        stderr: fs_err::read_to_string(&stderr).unwrap_or_default(),
        took: started.elapsed(),
        first_record,
    }
}

/// Whether the file `path` holds a Singer `RECORD` line yet.
fn has_record(path: &Path) -> bool {
    fs_err::read(path).is_ok_and(|bytes| {
        bytes.split(|byte| *byte == b'\n').any(|line| {
            line.starts_with(b"{\"type\": \"RECORD\"") || line.starts_with(b"{\"type\":\"RECORD\"")
        })
    })
}

/// Debian's `bwrap`, from `scripts/setup-test-env --image`.
fn bwrap() -> PathBuf {
    let path = PathBuf::from("/usr/bin/bwrap");
    assert!(
        path.exists(),
        "bubblewrap is not installed: run scripts/setup-test-env --image"
    );
    path
}
