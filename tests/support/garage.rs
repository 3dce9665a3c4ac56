//! A real single-node Garage S3 server for a test: free loopback ports, a temporary folder,
//! one bucket and one key; killed when dropped.
//!
//! Garage is installed by `scripts/setup-test-env --garage`. Without it a test skips with a
//! loud message, unless `MELTC_REQUIRE_TOOLS` is set (CI sets it), where it fails.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Garage's `s3_region`; clients must sign for it.
pub const REGION: &str = "garage";
/// The bucket every server starts with.
pub const BUCKET: &str = "meltc-state";

/// A running Garage.
pub struct Garage {
    child: Option<Child>,
    folder: tempfile::TempDir,
    binary: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The key's ID.
    pub key_id: String,
    /// The key's secret.
    pub secret: String,
}

/// The garage binary, or `None` (after saying so loudly) when it is not installed and
/// `MELTC_REQUIRE_TOOLS` is unset.
pub fn binary() -> Option<PathBuf> {
    let home = std::env::var_os("MELTC_TEST_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/meltc-test"),
        PathBuf::from,
    );
    let installed = home.join("bin/garage");
    if installed.exists() {
        return Some(installed);
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|folder| folder.join("garage"))
            .find(|candidate| candidate.exists())
    });
    if on_path.is_some() {
        return on_path;
    }
    assert!(
        std::env::var_os("MELTC_REQUIRE_TOOLS").is_none(),
        "garage is not installed ({}) and MELTC_REQUIRE_TOOLS is set: run \
         scripts/setup-test-env --garage",
        installed.display()
    );
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         SKIPPED: garage is not installed ({}); run scripts/setup-test-env --garage\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
        installed.display()
    );
    None
}

impl Garage {
    /// Start a server with bucket [`BUCKET`] and a key allowed to read and write it; `None`
    /// when garage is not installed (see [`binary`]).
    pub fn start() -> Option<Self> {
        let binary = binary()?;
        let folder = tempfile::tempdir().expect("temp dir");
        let (rpc_port, s3_port) = (free_port(), free_port());
        let config = folder.path().join("garage.toml");
        fs_err::write(
            &config,
            format!(
                "metadata_dir = \"{root}/meta\"\n\
                 data_dir = \"{root}/data\"\n\
                 db_engine = \"sqlite\"\n\
                 replication_factor = 1\n\
                 rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
                 rpc_secret = \"{secret}\"\n\
                 [s3_api]\n\
                 api_bind_addr = \"127.0.0.1:{s3_port}\"\n\
                 s3_region = \"{REGION}\"\n",
                root = folder.path().display(),
                secret = random_hex(32),
            ),
        )
        .expect("garage config");
        let mut garage = Self {
            child: None,
            folder,
            binary,
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            key_id: String::new(),
            secret: String::new(),
        };
        garage.spawn();
        let binary = garage.binary.clone();
        garage.configure(&binary, &config);
        Some(garage)
    }

    fn spawn(&mut self) {
        let log = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.folder.path().join("server.log"))
            .expect("log file");
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.folder.path().join("garage.toml"))
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log.into_parts().0)
            .spawn()
            .expect("garage server starts");
        self.child = Some(child);
    }

    /// Start the server again after [`Garage::kill`], on the same data, ports and key; returns
    /// once its S3 port accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "garage is still running");
        self.spawn();
        let address = self.endpoint.trim_start_matches("http://").to_owned();
        let started = Instant::now();
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "garage did not come back:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Layout, bucket and key, through the garage CLI (retried until the server answers).
    fn configure(&mut self, binary: &Path, config: &Path) {
        let cli = |args: &[&str]| cli(binary, config, args);
        let node = self.retry("garage node id", || cli(&["node", "id", "-q"]));
        let node = node.trim().split('@').next().unwrap_or_default().to_owned();
        self.retry("layout assign", || {
            cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node])
        });
        self.retry("layout apply", || {
            cli(&["layout", "apply", "--version", "1"])
        });
        self.retry("bucket create", || cli(&["bucket", "create", BUCKET]));
        let key = self.retry("key create", || cli(&["key", "create", "meltc-test"]));
        self.key_id = field(&key, "Key ID:");
        self.secret = field(&key, "Secret key:");
        self.retry("bucket allow", || {
            cli(&[
                "bucket",
                "allow",
                "--read",
                "--write",
                BUCKET,
                "--key",
                "meltc-test",
            ])
        });
    }

    /// Create the bucket `name` too, readable and writable with the key.
    pub fn add_bucket(&mut self, name: &str) {
        let (binary, config) = (self.binary.clone(), self.folder.path().join("garage.toml"));
        let cli = |args: &[&str]| cli(&binary, &config, args);
        self.retry("bucket create", || cli(&["bucket", "create", name]));
        self.retry("bucket allow", || {
            cli(&[
                "bucket",
                "allow",
                "--read",
                "--write",
                name,
                "--key",
                "meltc-test",
            ])
        });
    }

    /// Run `step` until it succeeds (Garage takes a moment to answer after start and after a
    /// layout change), at most 30 s.
    fn retry(&mut self, what: &str, mut step: impl FnMut() -> Result<String, String>) -> String {
        let started = Instant::now();
        loop {
            match step() {
                Ok(output) => return output,
                Err(error) if started.elapsed() > Duration::from_secs(30) => {
                    panic!("garage {what} failed: {error}\nserver log:\n{}", self.log())
                }
                Err(_) => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        fs_err::read_to_string(self.folder.path().join("server.log")).unwrap_or_default()
    }

    /// Stop the server now (a fault mid-operation).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `garage -c CONFIG ARGS`: its stdout, or its stderr when it fails.
fn cli(binary: &Path, config: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(binary)
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .expect("garage runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The value after `label` on its line of garage's key report.
fn field(report: &str, label: &str) -> String {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .map(|value| value.trim().to_owned())
        .unwrap_or_else(|| panic!("no `{label}` in garage output:\n{report}"))
}

/// A port nothing listens on now (the OS picks it; the listener is closed right away).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// `bytes` random bytes as lowercase hex (Garage's `rpc_secret` is 32 bytes).
fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0_u8; bytes];
    fs_err::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut buffer))
        .expect("random bytes");
    buffer.iter().map(|byte| format!("{byte:02x}")).collect()
}
