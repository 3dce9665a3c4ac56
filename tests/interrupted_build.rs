//! `meltc build` killed (SIGKILL) at pseudo-random points while it writes, 40 times with a fixed
//! seed: every environment folder is always whole (the previous build's files byte for byte,
//! or the new build's), and the staging folders of killed builds are gone after the next build
//! that completes (src/emit/folder.rs).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::files as tree;

type Tree = BTreeMap<String, Vec<u8>>;

const ITERATIONS: u64 = 40;
const ENVIRONMENTS: [&str; 2] = ["dev", "prod"];

/// A project big enough that writing its output takes a while: `version` changes every pip_url,
/// so each build replaces every plugin-dependent file.
fn project(version: u32) -> String {
    let mut yaml = String::from("plugins:\n  extractors:\n");
    for index in 0..300 {
        let _ = write!(
            yaml,
            "  - name: tap-{index}\n    namespace: tap_{index}\n    pip_url: tap-{index}=={version}.0\n    config:\n      password: ${{TAP_{index}_PASSWORD}}\n"
        );
    }
    yaml.push_str(
        "  loaders:\n  - name: target-x\n    namespace: target_x\n    pip_url: target-x\njobs:\n",
    );
    for index in 0..300 {
        let _ = writeln!(yaml, "- name: job-{index}\n  tasks: [tap-{index} target-x]");
    }
    yaml.push_str("environments:\n- name: dev\n- name: prod\n");
    yaml
}

fn build(root: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meltc"));
    command
        .args(["build", "--all-envs"])
        .current_dir(root)
        .env_clear()
        .env("NO_COLOR", "1");
    command
}

/// The complete output of each version, built in a folder of its own.
fn expected(version: u32) -> BTreeMap<&'static str, Tree> {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("meltano.yml"), project(version)).unwrap();
    assert!(build(dir.path()).status().unwrap().success());
    ENVIRONMENTS
        .iter()
        .map(|env| (*env, tree(&dir.path().join("deploy").join(env))))
        .collect()
}

#[test]
fn a_killed_build_leaves_each_folder_old_or_new_and_whole() {
    let versions = [expected(1), expected(2)];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs_err::write(root.join("meltano.yml"), project(1)).unwrap();
    let started = Instant::now();
    assert!(build(root).status().unwrap().success());
    // Kill points spread over a whole build's duration (and a little past it).
    let span = started.elapsed().as_micros().max(1_000) as u64 * 5 / 4;
    let mut seed: u64 = 0x05EE_D0FB_111D;
    let mut current: BTreeMap<&str, usize> = ENVIRONMENTS.iter().map(|env| (*env, 0)).collect();
    let (mut killed, mut completed) = (0, 0);
    for iteration in 0..ITERATIONS {
        let next = usize::from(iteration % 2 == 0);
        fs_err::write(root.join("meltano.yml"), project(next as u32 + 1)).unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % span);
        let mut child = build(root).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            completed += 1;
        } else {
            killed += 1;
        }
        for env in ENVIRONMENTS {
            let actual = tree(&root.join("deploy").join(env));
            let whole = [current[env], next]
                .into_iter()
                .find(|version| versions[*version][env] == actual);
            let Some(version) = whole else {
                panic!(
                    "iteration {iteration} (killed after {delay:?}): deploy/{env} is neither the old output nor the new one ({} files)",
                    actual.len()
                );
            };
            current.insert(env, version);
        }
        let mut visible: Vec<String> = fs_err::read_dir(root.join("deploy"))
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.'))
            .collect();
        visible.sort();
        assert_eq!(
            visible, ENVIRONMENTS,
            "iteration {iteration}: deploy/ holds {visible:?}"
        );
    }
    println!(
        "interrupted builds: {ITERATIONS} iterations, {killed} killed while running, {completed} completed"
    );
    assert!(
        killed >= ITERATIONS / 4,
        "only {killed} builds were killed before they finished"
    );
    // A build that completes removes what the killed ones staged.
    assert!(build(root).status().unwrap().success());
    let left: Vec<_> = fs_err::read_dir(root.join("deploy"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name())
        .filter(|name| name.to_string_lossy().contains("meltc-staging"))
        .collect();
    assert!(left.is_empty(), "staging folders left: {left:?}");
}
