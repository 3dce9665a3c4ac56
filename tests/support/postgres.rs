//! A real PostgreSQL server (Debian's package, from `scripts/setup-test-env --system`) for one
//! test: a fresh cluster in a temporary folder on a free loopback port, stopped when dropped.
//!
//! `initdb` refuses to run as root, so as root the cluster belongs to `nobody`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::tool;

/// A running server; `postgres` is a superuser without a password.
pub struct Postgres {
    folder: tempfile::TempDir,
    bin: PathBuf,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
}

impl Postgres {
    /// Start a server (a second or two).
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Start a server that also accepts TLS (`ssl = on`, a self-signed certificate made with
    /// `openssl`), as a production database requires (`sslmode=require`).
    pub fn start_with_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        // The server programs from their own folder: `nobody` cannot follow links under root's home.
        let bin = fs_err::canonicalize(tool("initdb"))
            .expect("initdb resolves")
            .parent()
            .expect("bin folder")
            .to_path_buf();
        let folder = tempfile::tempdir().expect("temp dir");
        let as_root = rustix::process::geteuid().is_root();
        if as_root {
            chown_nobody(folder.path());
        }
        let port = super::garage::free_port();
        let data = folder.path().join("data");
        let run = |program: &str, args: &[&str]| {
            let mut command = if as_root {
                let mut command = Command::new("runuser");
                command.args(["-u", "nobody", "--"]).arg(bin.join(program));
                command
            } else {
                Command::new(bin.join(program))
            };
            let output = command
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("PostgreSQL program runs");
            assert!(
                output.status.success(),
                "{program} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let data_arg = data.to_str().expect("UTF-8 path");
        run(
            "initdb",
            &[
                "-D",
                data_arg,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            folder.path().display()
        );
        if tls {
            let (certificate, key) = (data.join("server.crt"), data.join("server.key"));
            let status = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=postgres.test", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&certificate)
                .stderr(Stdio::null())
                .status()
                .expect("openssl runs");
            assert!(status.success(), "openssl req (a self-signed certificate)");
            // The server refuses a key others can read; the files belong to its user.
            fs_err::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("key mode");
            if as_root {
                chown_nobody(&key);
                chown_nobody(&certificate);
            }
            options.push_str(" -c ssl=on");
        }
        let log = folder.path().join("server.log");
        run(
            "pg_ctl",
            &[
                "-D",
                data_arg,
                "-o",
                &options,
                "-l",
                log.to_str().expect("UTF-8 path"),
                "-w",
                "start",
            ],
        );
        Self { folder, bin, port }
    }

    /// Run `sql` as `postgres` in `database`; panics with psql's message on an error.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        let output = Command::new(tool("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .args(["-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql failed on {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn stop(&self) {
        let data = self.folder.path().join("data");
        let mut command = if rustix::process::geteuid().is_root() {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "nobody", "--"])
                .arg(self.bin.join("pg_ctl"));
            command
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = command
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn chown_nobody(path: &Path) {
    let status = Command::new("chown")
        .arg("nobody")
        .arg(path)
        .status()
        .expect("chown runs");
    assert!(status.success(), "chown nobody {}", path.display());
}
