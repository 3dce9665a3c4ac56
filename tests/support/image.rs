//! Container images with a real OCI builder: Debian's `buildah` (chroot isolation, no
//! daemon; overlay storage, or vfs where the kernel cannot mount overlay), its storage under
//! the test tools' folder.
//!
//! `scripts/setup-test-env --image` installs buildah and makes the test base image (Debian
//! bookworm with Python 3.11 from debootstrap, the host's CA bundle for the TLS proxy in front
//! of the package index) and writes its digest-pinned name to `image/base.ref`. A missing tool
//! or base image fails the test with the command that installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::test_home;

/// `buildah` with the test storage: `bin/meltc-buildah` from `scripts/setup-test-env --image`.
#[must_use]
pub fn buildah() -> Command {
    let wrapper = test_home().join("bin/meltc-buildah");
    assert!(
        wrapper.exists(),
        "buildah is not set up ({}): run scripts/setup-test-env --image",
        wrapper.display()
    );
    Command::new(wrapper)
}

/// Run `buildah ARGS`; panic with its output unless it exits 0; its stdout.
pub fn buildah_ok(args: &[&str]) -> String {
    let output = buildah().args(args).output().expect("buildah runs");
    assert!(
        output.status.success(),
        "buildah {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The test base image, pinned by digest (`localhost/meltc-test-base@sha256:...`).
#[must_use]
pub fn base_image() -> String {
    let file = test_home().join("image/base.ref");
    let reference = fs_err::read_to_string(&file)
        .unwrap_or_else(|_| {
            panic!(
                "no test base image ({}): run scripts/setup-test-env --image",
                file.display()
            )
        })
        .trim()
        .to_owned();
    // The stamp may outlive the storage (a wiped folder): say so instead of failing later.
    let output = buildah()
        .args(["inspect", "--type", "image", &reference])
        .output()
        .expect("buildah runs");
    assert!(
        output.status.success(),
        "the test base image {reference} is not in buildah's storage: run scripts/setup-test-env --image"
    );
    reference
}

/// The meltc carrier image for the tests: `meltc-run` (the binary under test, stripped; built
/// for this host's glibc, which matches Debian bookworm) and uv from PyPI (the test tools'),
/// in `/usr/local/bin` of an empty image, as `docker/meltc/Dockerfile` lays them out. Tagged by
/// the content, so a rebuilt meltc-run is a new image.
#[must_use]
pub fn carrier_image() -> String {
    let folder = tempfile::tempdir().expect("temp dir");
    let meltc_run = folder.path().join("meltc-run");
    fs_err::copy(env!("CARGO_BIN_EXE_meltc-run"), &meltc_run).expect("meltc-run copied");
    let status = Command::new("strip")
        .arg(&meltc_run)
        .status()
        .expect("strip runs");
    assert!(status.success(), "strip meltc-run");
    let uv = test_home().join("venvs/_bootstrap/bin/uv");
    assert!(
        uv.exists(),
        "uv is not installed ({}): run scripts/setup-test-env --python",
        uv.display()
    );
    let digest = {
        use sha1::Digest as _;
        let mut hasher = sha1::Sha1::new();
        hasher.update(fs_err::read(&meltc_run).expect("meltc-run"));
        hasher.update(fs_err::read(&uv).expect("uv"));
        hasher
            .finalize()
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    let name = format!("localhost/meltc-test-carrier:{digest}");
    let exists = buildah()
        .args(["inspect", "--type", "image", &name])
        .output()
        .expect("buildah runs")
        .status
        .success();
    if !exists {
        let container = buildah_ok(&["from", "scratch"]).trim().to_owned();
        for (file, target) in [
            (meltc_run.as_path(), "/usr/local/bin/meltc-run"),
            (uv.as_path(), "/usr/local/bin/uv"),
        ] {
            buildah_ok(&[
                "copy",
                "--chmod",
                "0755",
                &container,
                &file.to_string_lossy(),
                target,
            ]);
        }
        buildah_ok(&["config", "--user", "65532:65532", &container]);
        buildah_ok(&["commit", "--rm", "--quiet", &container, &name]);
        // Carriers of earlier meltc-run builds would pile up in the cache: one is enough.
        let listed = buildah_ok(&["images", "--noheading", "--format", "{{.Name}}:{{.Tag}}"]);
        for old in listed.lines().filter(|image| {
            image.starts_with("localhost/meltc-test-carrier:") && *image != name.as_str()
        }) {
            let _ = buildah().args(["rmi", old]).output();
        }
    }
    name
}

/// One image build: what buildah printed and how long it took.
pub struct Build {
    pub output: Output,
    pub took: Duration,
}

/// `buildah bud` of the build context `context` (its `Dockerfile`) into `tag`, as `docker
/// build` would: multi-stage, cache mounts, layers cached between builds (`--layers`), never
/// pulling (no registry is reachable; every image is local).
#[must_use]
pub fn build(context: &Path, tag: &str) -> Build {
    build_with(context, tag, &[])
}

/// [`build`] with more `buildah bud` options (`--no-cache`).
#[must_use]
pub fn build_with(context: &Path, tag: &str, options: &[&str]) -> Build {
    let started = Instant::now();
    let output = buildah()
        .args([
            "bud",
            "--isolation",
            "chroot",
            "--layers",
            "--pull-never",
            "--tag",
            tag,
        ])
        .args(options)
        .arg(context)
        .output()
        .expect("buildah runs");
    Build {
        output,
        took: started.elapsed(),
    }
}

/// The image's configuration (`ENV`, `ENTRYPOINT`, `CMD`, `WORKDIR`, `USER`), as a container
/// runtime reads it.
#[derive(Debug)]
pub struct ImageConfig {
    pub env: Vec<(String, String)>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: String,
    pub user: String,
    /// The image's size in bytes (the sum of its layers), as `buildah images` shows it.
    pub size: u64,
}

/// The configuration of `image`.
#[must_use]
pub fn config(image: &str) -> ImageConfig {
    let inspect: serde_json::Value =
        serde_json::from_str(&buildah_ok(&["inspect", "--type", "image", image]))
            .expect("buildah inspect prints JSON");
    let config = &inspect["OCIv1"]["config"];
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let env = strings(&config["Env"])
        .into_iter()
        .filter_map(|pair| {
            pair.split_once('=')
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
        })
        .collect();
    let size = buildah_ok(&["images", "--format", "{{.Size}}", "--noheading", image]);
    ImageConfig {
        env,
        entrypoint: strings(&config["Entrypoint"]),
        cmd: strings(&config["Cmd"]),
        working_dir: config["WorkingDir"].as_str().unwrap_or("/").to_owned(),
        user: config["User"].as_str().unwrap_or_default().to_owned(),
        size: parse_size(size.trim()),
    }
}

/// `buildah images`' human size (`1.23 GB`, `456 MB`, `789 kB`) in bytes.
fn parse_size(text: &str) -> u64 {
    let (number, unit) = text.split_once(' ').unwrap_or((text, "B"));
    let number: f64 = number.parse().unwrap_or(0.0);
    let factor = match unit {
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => 1.0,
    };
    // Sizes are far below 2^53 bytes: the float is exact enough.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bytes = (number * factor) as u64;
    bytes
}

/// The root filesystem of a container of `image` (`buildah from` + `buildah mount`), removed
/// when dropped.
pub struct Rootfs {
    container: String,
    /// Where the container's root filesystem is on the host.
    pub path: PathBuf,
}

impl Rootfs {
    /// Mount a new container of `image`.
    #[must_use]
    pub fn of(image: &str) -> Self {
        let container = buildah_ok(&["from", "--pull-never", "--quiet", image])
            .trim()
            .to_owned();
        let path = PathBuf::from(buildah_ok(&["mount", &container]).trim());
        Self { container, path }
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = buildah().args(["rm", &self.container]).output();
    }
}
