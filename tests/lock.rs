//! `meltc lock`: files written byte for byte as Meltano writes them, `--update` touching only
//! what changed, every corpus project refreshed, and the real `meltano` reading the result with
//! no Hub to fall back on. Error outputs are golden cases (`golden/lock-*`).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use meltc::meltano::PluginType;
use meltc::resolve::hub::HubIndex;
use meltc::resolve::lockfile;

use crate::support::{copy_tree, meltc, shared, tool};

const HUB_PROJECT: &str = "project_id: lock-test
plugins:
  extractors:
  - name: tap-gitlab
    variant: meltanolabs
  - name: tap-custom
    namespace: tap_custom
  loaders:
  - name: target-jsonl
    variant: andyh1203
";

fn project(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("meltano.yml"), text).unwrap();
    dir
}

/// The lock file Meltano writes for a hub plugin variant.
fn hub_lock(plugin_type: PluginType, name: &str, variant: &str) -> String {
    let definition = HubIndex::bundled()
        .plugin(plugin_type, name)
        .and_then(|plugin| plugin.definition(Some(variant)))
        .unwrap_or_else(|| panic!("{name} {variant} is on the hub"))
        .unwrap();
    lockfile::render(&definition)
}

/// Every file under `plugins/`, relative, with its bytes.
fn lock_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    crate::support::files(&root.join("plugins"))
        .into_iter()
        .map(|(path, bytes)| (format!("plugins/{path}"), bytes))
        .collect()
}

fn inode(path: &Path) -> u64 {
    fs_err::metadata(path).unwrap().ino()
}

#[test]
fn locks_hub_plugins_like_meltano_and_rewrites_only_what_changed() {
    let dir = project(HUB_PROJECT);
    let run = meltc(dir.path(), &["lock"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            0,
            "locked extractors/tap-gitlab--meltanolabs
skipped extractors/tap-custom (custom: its meltano.yml entry is its definition)
locked loaders/target-jsonl--andyh1203
3 plugins: 2 locked, 1 skipped
"
        )
    );
    let gitlab = "plugins/extractors/tap-gitlab--meltanolabs.lock";
    let jsonl = "plugins/loaders/target-jsonl--andyh1203.lock";
    let expected = BTreeMap::from([
        (
            gitlab.to_owned(),
            hub_lock(PluginType::Extractors, "tap-gitlab", "meltanolabs").into_bytes(),
        ),
        (
            jsonl.to_owned(),
            hub_lock(PluginType::Loaders, "target-jsonl", "andyh1203").into_bytes(),
        ),
    ]);
    assert_eq!(lock_files(dir.path()), expected);

    let inodes = |dir: &Path| (inode(&dir.join(gitlab)), inode(&dir.join(jsonl)));
    let before = inodes(dir.path());
    let again = meltc(dir.path(), &["lock", "--update"]);
    assert_eq!(again.code, 0);
    assert!(
        again
            .stderr
            .ends_with("3 plugins: 2 unchanged, 1 skipped\n"),
        "{}",
        again.stderr
    );
    assert_eq!(
        inodes(dir.path()),
        before,
        "an unchanged file was rewritten"
    );

    // An edited lock is kept without --update and restored with it; the other is not touched.
    fs_err::write(dir.path().join(gitlab), "{\"name\": \"edited\"}\n").unwrap();
    let kept = meltc(dir.path(), &["lock", "tap-gitlab"]);
    assert!(
        kept.stderr.starts_with("kept extractors/tap-gitlab--meltanolabs (the hub index has another definition; `--update` rewrites it)\n"),
        "{}",
        kept.stderr
    );
    let updated = meltc(dir.path(), &["lock", "--update"]);
    assert_eq!(updated.code, 0);
    assert!(
        updated
            .stderr
            .starts_with("updated extractors/tap-gitlab--meltanolabs\n"),
        "{}",
        updated.stderr
    );
    assert_eq!(lock_files(dir.path()), expected);
    let after = inodes(dir.path());
    assert_ne!(after.0, before.0);
    assert_eq!(after.1, before.1, "the unchanged lock was rewritten");
}

#[test]
fn a_misspelt_name_fails_but_the_other_names_are_locked() {
    let dir = project(HUB_PROJECT);
    let run = meltc(dir.path(), &["lock", "tap-gitlba", "target-jsonl"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("help: did you mean `tap-gitlab`?"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("meltano.yml:4:11"), "{}", run.stderr);
    assert_eq!(
        lock_files(dir.path()).into_keys().collect::<Vec<_>>(),
        ["plugins/loaders/target-jsonl--andyh1203.lock"]
    );
}

/// I/O errors name the lock file and exit 2. (The tests run as root, so a read-only folder
/// would not stop them: a file and a dangling link stand in the way instead.)
#[test]
fn a_lock_that_cannot_be_read_or_written_is_named_and_exits_2() {
    let dir = project(HUB_PROJECT);
    fs_err::write(dir.path().join("plugins"), "not a folder").unwrap();
    let run = meltc(dir.path(), &["lock", "tap-gitlab"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "cannot read `plugins/extractors/tap-gitlab--meltanolabs.lock`: Not a directory"
        ),
        "{}",
        run.stderr
    );
    fs_err::remove_file(dir.path().join("plugins")).unwrap();
    fs_err::create_dir_all(dir.path().join("plugins/extractors")).unwrap();
    std::os::unix::fs::symlink("nowhere", dir.path().join("plugins/loaders")).unwrap();
    let run = meltc(dir.path(), &["lock"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot write `plugins/loaders/target-jsonl--andyh1203.lock`: File exists"),
        "{}",
        run.stderr
    );
    // The other plugin is still locked, and nothing half-written is left behind.
    assert_eq!(
        lock_files(dir.path()).into_keys().collect::<Vec<_>>(),
        ["plugins/extractors/tap-gitlab--meltanolabs.lock"]
    );
}

/// How one corpus project's lock files fared under `meltc lock --update`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Refresh {
    /// Reported `unchanged`: byte-identical to the hub snapshot's lock file.
    unchanged: usize,
    /// Reported `unchanged`: the hub's definition, written differently (older Meltano): kept.
    same_definition: usize,
    /// Rewritten: the hub snapshot has another definition.
    refreshed: usize,
    /// New: plugins that had no lock file.
    created: usize,
    /// Reported `kept`: a variant the bundled hub index does not have (Matatika's).
    kept: usize,
    /// Lock files of custom plugins, or of no plugin of the project: never touched.
    untouched: usize,
}

/// The hub lock for `plugins/<type>/<name>--<variant>.lock`, when the hub has that variant.
fn hub_lock_for(path: &str) -> Option<String> {
    let mut parts = path.strip_prefix("plugins/")?.splitn(2, '/');
    let plugin_type = PluginType::parse(parts.next()?)?;
    let (name, variant) = parts.next()?.strip_suffix(".lock")?.split_once("--")?;
    let plugin = HubIndex::bundled().plugin(plugin_type, name)?;
    let found = plugin.variant(Some(variant))?;
    (found.name() == variant).then(|| lockfile::render(&found.definition().unwrap()))
}

fn same_json(a: &[u8], b: &[u8]) -> bool {
    let parse = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
    parse(a).is_some() && parse(a) == parse(b)
}

/// The lock file of each per-plugin line with `status` (`unchanged extractors/tap-x--v`).
fn reported(stderr: &str, status: &str) -> BTreeSet<String> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix(status)?.strip_prefix(' '))
        .filter_map(|rest| rest.split(' ').next())
        .map(|subject| format!("plugins/{subject}.lock"))
        .collect()
}

/// Lock every corpus project with `--update` in a copy, and check each lock file: one the
/// hub snapshot defines the same way keeps its bytes, a refreshed or new one is exactly the
/// hub's. The projects that exit 1 have plugins that neither the hub nor a lock file defines
/// (`meltc validate` reports them too) or a variant spelt in another case than the hub's.
#[test]
fn shared_corpus_locks_are_kept_where_the_hub_agrees_and_refreshed_where_it_does_not() {
    let corpus = shared().join("corpus");
    let failing = BTreeSet::from([
        "01-meltano-squared",
        "03-meltano-meltano-multifile",
        "33-radbrt-prefect-warehouse",
    ]);
    let mut total = Refresh::default();
    let mut problems = Vec::new();
    let mut projects: Vec<PathBuf> = fs_err::read_dir(&corpus)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    projects.sort();
    for source in &projects {
        let name = source.file_name().unwrap().to_string_lossy().into_owned();
        let copy = tempfile::tempdir().unwrap();
        copy_tree(source, copy.path());
        let before = lock_files(copy.path());
        let run = meltc(copy.path(), &["lock", "--update"]);
        let expected_code = i32::from(failing.contains(name.as_str()));
        if run.code != expected_code {
            problems.push(format!("{name}: exit {}\n{}", run.code, run.stderr));
        }
        let (unchanged, kept) = (
            reported(&run.stderr, "unchanged"),
            reported(&run.stderr, "kept"),
        );
        let after = lock_files(copy.path());
        for (path, bytes) in after.iter().filter(|(path, _)| path.ends_with(".lock")) {
            let hub = hub_lock_for(path);
            let Some(old) = before.get(path) else {
                total.created += 1;
                if hub.as_deref().map(str::as_bytes) != Some(bytes.as_slice()) {
                    problems.push(format!("{name}: new {path} is not the hub's lock file"));
                }
                continue;
            };
            if old != bytes {
                total.refreshed += 1;
                if hub.as_deref().map(str::as_bytes) != Some(bytes.as_slice()) {
                    problems.push(format!(
                        "{name}: {path} was rewritten, not with the hub's lock file"
                    ));
                }
                if same_json(old, bytes) {
                    problems.push(format!(
                        "{name}: {path} was rewritten with the same definition"
                    ));
                }
            } else if unchanged.contains(path) {
                match hub {
                    Some(hub) if hub.as_bytes() == old.as_slice() => total.unchanged += 1,
                    Some(hub) if same_json(old, hub.as_bytes()) => total.same_definition += 1,
                    _ => problems.push(format!(
                        "{name}: {path} reported unchanged, but the hub differs"
                    )),
                }
            } else if kept.contains(path) {
                total.kept += 1;
            } else {
                total.untouched += 1;
            }
        }
        if let Some(gone) = before.keys().find(|path| !after.contains_key(*path)) {
            problems.push(format!("{name}: {gone} disappeared"));
        }
        // A second run changes nothing.
        let again = meltc(copy.path(), &["lock", "--update"]);
        if lock_files(copy.path()) != after || again.stderr.contains("\nupdated ") {
            problems.push(format!(
                "{name}: a second run changed files\n{}",
                again.stderr
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("corpus lock refresh: {total:?}");
    // Pinned so that a new hub snapshot shows what it changes (update the numbers with it).
    assert_eq!(
        total,
        Refresh {
            unchanged: 18,
            same_definition: 16,
            refreshed: 75,
            created: 30,
            kept: 7,
            untouched: 22,
        }
    );
}

/// The real `meltano` (PyPI, pinned by scripts/setup-test-env) with every Hub address pointing
/// at a closed local port, so that reading a definition from anywhere but the lock file fails.
fn offline_meltano(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(tool("meltano"))
        .args(args)
        .current_dir(root)
        .env("MELTANO_HUB_URL", "http://127.0.0.1:9")
        .env("MELTANO_HUB_API_ROOT", "http://127.0.0.1:9/meltano/api/v1")
        .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("NO_COLOR", "1")
        .env_remove("MELTANO_PROJECT_ROOT")
        .output()
        .expect("meltano runs")
}

/// Setting names in `meltano config list --all` output: the first word of each `[env: ...]` line.
fn listed_settings(stdout: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|line| !line.starts_with(char::is_whitespace) && line.contains(" [env: "))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn lock_setting_names(path: &Path) -> BTreeSet<String> {
    let lock: serde_json::Value = serde_json::from_slice(&fs_err::read(path).unwrap()).unwrap();
    lock["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|setting| setting["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn real_meltano_reads_meltc_locks_without_the_hub() {
    let dir = project(HUB_PROJECT);
    assert_eq!(meltc(dir.path(), &["lock"]).code, 0);
    let written = lock_files(dir.path());
    for (plugin, lock) in [
        (
            "tap-gitlab",
            "plugins/extractors/tap-gitlab--meltanolabs.lock",
        ),
        (
            "target-jsonl",
            "plugins/loaders/target-jsonl--andyh1203.lock",
        ),
    ] {
        let listed = offline_meltano(dir.path(), &["config", "list", "--all", plugin]);
        let stderr = String::from_utf8_lossy(&listed.stderr);
        assert!(
            listed.status.success(),
            "meltano config list {plugin}:\n{stderr}"
        );
        assert_eq!(
            listed_settings(&listed.stdout),
            lock_setting_names(&dir.path().join(lock)),
            "{plugin}"
        );
        let printed = offline_meltano(dir.path(), &["config", "print", "--format", "json", plugin]);
        assert!(
            printed.status.success(),
            "meltano config print {plugin}:\n{}",
            String::from_utf8_lossy(&printed.stderr)
        );
        let config: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&printed.stdout).unwrap();
        let names = lock_setting_names(&dir.path().join(lock));
        assert!(config.keys().all(|key| names.contains(key)), "{config:?}");
    }
    assert_eq!(
        lock_files(dir.path()),
        written,
        "meltano changed the lock files"
    );
}

/// Why `meltc::lock::unpinned-variant` exists: without `variant:` Meltano looks for
/// `<name>--default.lock`, so the lock file `meltano lock` (and meltc) writes is not read and,
/// with no Hub, the command fails; pinning the variant fixes it.
#[test]
fn real_meltano_ignores_the_lock_of_a_plugin_without_variant() {
    let unpinned = "project_id: lock-test\nplugins:\n  loaders:\n  - name: target-jsonl\n";
    let dir = project(unpinned);
    let run = meltc(dir.path(), &["lock"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("meltc::lock::unpinned-variant"),
        "{}",
        run.stderr
    );
    assert!(
        dir.path()
            .join("plugins/loaders/target-jsonl--andyh1203.lock")
            .is_file()
    );
    let failed = offline_meltano(dir.path(), &["config", "print", "target-jsonl"]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "{stderr}");
    assert!(
        stderr.contains("Could not connect to Meltano Hub"),
        "{stderr}"
    );
    fs_err::write(
        dir.path().join("meltano.yml"),
        format!("{unpinned}    variant: andyh1203\n"),
    )
    .unwrap();
    let pinned = offline_meltano(dir.path(), &["config", "print", "target-jsonl"]);
    assert!(
        pinned.status.success(),
        "{}",
        String::from_utf8_lossy(&pinned.stderr)
    );
}
