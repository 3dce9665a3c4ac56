//! An environment whose plugins install from the project's own folders
//! (`golden-build/local-plugins`), its image built by a real OCI builder (buildah) exactly as
//! its Dockerfile's header says: from the project root with `-f deploy/prod/Dockerfile`, the
//! generated `Dockerfile.dockerignore` as the allow-list. Only the base and carrier image names
//! are changed (through `annotations.meltc.image`, as the deploy test does).
//!
//! What it checks: the build context holds the plugin folders and nothing else of the project
//! (not the plugin folder's own `.env`, not the project's `.env`, not a stray folder: canary
//! values searched for in the build stage), the plugins are installed as packages (not
//! editable) with their locked dependency, and only their virtualenvs reach the runtime stage.

use std::path::Path;

use crate::support::image::{self, Rootfs};
use crate::support::{copy_tree, meltc, repo};

/// In the plugin folder's `.env`, committed in the golden project.
const PLUGIN_DOTENV: &str = "local-dotenv-never-in-the-image";
/// Written by the test in the project's own `.env` and in a folder no plugin installs from.
const PROJECT_CANARY: &str = "project-canary-never-in-the-image";

fn grep_tree(root: &Path, needle: &str) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .flatten()
        .filter(|entry| entry.file_type().is_file())
        .filter(|entry| {
            fs_err::read(entry.path())
                .map(|bytes| {
                    bytes
                        .windows(needle.len())
                        .any(|window| window == needle.as_bytes())
                })
                .unwrap_or(false)
        })
        .map(|entry| entry.path().display().to_string())
        .collect()
}

fn bud(project: &Path, tag: &str, target: &[&str]) {
    // As `docker build -f deploy/prod/Dockerfile .` run in the project root.
    let dockerfile = project.join("deploy/prod/Dockerfile");
    let dockerfile = dockerfile.to_string_lossy();
    let mut options = vec!["-f", &*dockerfile];
    options.extend_from_slice(target);
    let build = image::build_with(project, tag, &options);
    assert!(
        build.output.status.success(),
        "buildah bud failed:\n{}{}",
        String::from_utf8_lossy(&build.output.stdout),
        String::from_utf8_lossy(&build.output.stderr)
    );
    eprintln!("{tag}: built in {:.1} s", build.took.as_secs_f64());
}

#[test]
fn project_folder_plugins_build_into_the_image_from_the_allow_listed_project_root() {
    let (base, carrier) = (image::base_image(), image::carrier_image());
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    copy_tree(&repo().join("golden-build/local-plugins/project"), project);
    let yml = project.join("meltano.yml");
    let text = fs_err::read_to_string(&yml).unwrap();
    let pinned = "      python: '3.11'\n";
    assert!(text.contains(pinned), "the project pins its Python");
    fs_err::write(
        &yml,
        text.replacen(
            pinned,
            &format!("{pinned}      base: {base}\n      meltc: {carrier}\n"),
            1,
        ),
    )
    .unwrap();
    fs_err::write(
        project.join(".env"),
        format!("PROJECT_TOKEN={PROJECT_CANARY}\n"),
    )
    .unwrap();
    fs_err::create_dir_all(project.join("notes")).unwrap();
    fs_err::write(project.join("notes/token.txt"), PROJECT_CANARY).unwrap();
    assert!(
        fs_err::read_to_string(project.join("tap-internal/.env"))
            .unwrap()
            .contains(PLUGIN_DOTENV)
    );
    let build = meltc(project, &["build", "--env", "prod"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let dockerfile = fs_err::read_to_string(project.join("deploy/prod/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("#   docker build -f deploy/prod/Dockerfile -t meltano-prod .\n"),
        "the header names the command this test runs:\n{dockerfile}"
    );

    // The build stage: what the context carried into /meltc/project.
    let build_tag = "localhost/meltc-local-plugins-build:test";
    bud(project, build_tag, &["--target", "build"]);
    let stage = Rootfs::of(build_tag);
    let copied = stage.path.join("meltc/project");
    assert!(copied.join("tap-internal/pyproject.toml").is_file());
    assert!(
        copied
            .join("tap-internal/tap_internal/__init__.py")
            .is_file()
    );
    assert!(
        copied
            .join("plugins-src/target-internal/pyproject.toml")
            .is_file()
    );
    assert!(
        !copied.join("tap-internal/.env").exists(),
        "hidden files stay out"
    );
    let mut entries: Vec<String> = fs_err::read_dir(&copied)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["plugins-src", "tap-internal"],
        "nothing else of the project"
    );
    for canary in [PLUGIN_DOTENV, PROJECT_CANARY] {
        for folder in ["meltc", "opt/meltano", "etc/meltc"] {
            let found = grep_tree(&stage.path.join(folder), canary);
            assert!(found.is_empty(), "{canary} in the build stage: {found:?}");
        }
    }
    drop(stage);

    // The runtime stage: the installed packages, not their sources.
    let tag = "localhost/meltc-local-plugins:test";
    bud(project, tag, &[]);
    let rootfs = Rootfs::of(tag);
    assert!(
        !rootfs.path.join("meltc/project").exists(),
        "sources stay in the build stage"
    );
    for executable in [
        "extractors/tap-internal/bin/tap-internal",
        "loaders/target-internal/bin/target-internal",
    ] {
        assert!(
            rootfs.path.join("opt/meltano").join(executable).is_file(),
            "{executable} installed"
        );
    }
    assert!(
        !rootfs
            .path
            .join("opt/meltano/extractors/tap-sandbox")
            .exists(),
        "left out"
    );
    let site = rootfs
        .path
        .join("opt/meltano/extractors/tap-internal/lib/python3.11/site-packages");
    assert!(
        site.join("tap_internal/__init__.py").is_file(),
        "a package, not an editable link"
    );
    assert!(site.join("six.py").is_file(), "its locked dependency");
    let editable: Vec<_> = fs_err::read_dir(&site)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("__editable__") || name.ends_with(".egg-link"))
        .collect();
    assert!(editable.is_empty(), "never editable: {editable:?}");
    for canary in [PLUGIN_DOTENV, PROJECT_CANARY] {
        let found = grep_tree(&rootfs.path.join("opt/meltano"), canary);
        assert!(found.is_empty(), "{canary} in the image: {found:?}");
    }
}
