//! Every fuzz target's function over its seed corpus and over every crash the fuzzer ever found
//! (fuzz/regressions/<target>/), on the stable toolchain: the harness stays exercised on every
//! run, and a fixed crash stays fixed. `MELTC_FUZZ_CORPUS=<dir>` also writes the seeds out as
//! libFuzzer's starting corpus (`scripts/fuzz` does this).

#[path = "../fuzz/src/harness.rs"]
mod harness;
#[path = "../fuzz/src/seeds.rs"]
mod seeds;

use std::path::Path;

use crate::support::{repo, shared};

#[test]
fn every_target_runs_over_its_seeds_and_the_shared_corpus() {
    let export = std::env::var_os("MELTC_FUZZ_CORPUS");
    for (target, run) in harness::TARGETS {
        let inputs = seeds::seeds(&repo(), &shared(), target);
        assert!(inputs.len() >= 5, "{target}: only {} seeds", inputs.len());
        for input in &inputs {
            run(input);
        }
        if let Some(dir) = &export {
            write_corpus(&Path::new(dir).join(target), &inputs);
        }
    }
}

#[test]
fn every_crash_found_by_fuzzing_stays_fixed() {
    let root = repo().join("fuzz/regressions");
    let targets: Vec<&str> = harness::TARGETS.iter().map(|(name, _)| *name).collect();
    for entry in walkdir::WalkDir::new(&root)
        .min_depth(1)
        .into_iter()
        .flatten()
    {
        if entry.file_name() == "README.md" {
            continue;
        }
        let relative = entry.path().strip_prefix(&root).unwrap();
        let target = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let Some(run) = harness::TARGETS
            .iter()
            .find(|(name, _)| *name == target)
            .map(|t| t.1)
        else {
            panic!(
                "{}: not under a target's folder ({targets:?})",
                relative.display()
            );
        };
        if entry.file_type().is_file() {
            run(&fs_err::read(entry.path()).unwrap());
        }
    }
}

fn write_corpus(dir: &Path, inputs: &[Vec<u8>]) {
    use sha1::Digest as _;
    fs_err::create_dir_all(dir).unwrap();
    for input in inputs {
        let digest = sha1::Sha1::digest(input);
        let name: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        fs_err::write(dir.join(format!("seed-{name}")), input).unwrap();
    }
}
