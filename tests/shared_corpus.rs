//! The real projects in ../shared/corpus: `meltc validate` on each, with the findings pinned,
//! and meltc's schema compared with Meltano's on every file.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{json_rows, meltc, shared};

/// Expected exit code and finding counts per project. Every entry was reviewed against the
/// project's files; SOURCES.md "Deviations" explains most of them. Errors are only where the
/// run the project describes fails in Meltano too.
/// A project folder, its exit code, and its findings as (code, count).
type Pinned = (&'static str, i32, &'static [(&'static str, usize)]);

#[rustfmt::skip]
const EXPECTED: &[Pinned] = &[
    // The corpus keeps meltano.yml, included files and plugins/ only: a folder or requirements
    // file a plugin installs from (`pip_url: -e ./x`, `-r x.txt`) is in the real repository,
    // not here, so it is `local-path` (unused) or `local-path-used` (a job runs it) below.
    ("01-meltano-squared", 1, &[("meltc::plugin::local-path-used", 1), ("meltc::plugin::lock-only-variant", 1), ("meltc::ref::environment-plugin", 1), ("meltc::setting::literal-secret", 1), ("meltc::state::ephemeral", 13)]),
    ("02-meltano-meltano", 0, &[("meltc::ref::environment-plugin", 4), ("meltc::setting::literal-secret", 3), ("meltc::state::ephemeral", 10)]),
    // A parser fixture that Meltano never runs: `my-job` names the mapper `map-meltano-yml`
    // instead of its mapping, which `meltano run` refuses, and its 7 plugins have no
    // namespace, lock or hub entry (SOURCES.md) while jobs and schedules run them; its legacy
    // schedules carry a `start_date` Meltano 4 no longer reads.
    ("03-meltano-meltano-multifile", 1, &[("meltc::job::mapper-name", 1), ("meltc::key::ignored", 3), ("meltc::plugin::unresolved-used", 7), ("meltc::schedule::legacy", 3), ("meltc::yaml::unquoted-date", 3)]),
    // Legacy schedules with a `start_date` Meltano 4 no longer reads.
    ("04-meltano-demo-project", 0, &[("meltc::key::ignored", 2), ("meltc::key::unknown", 1), ("meltc::plugin::legacy-files", 2), ("meltc::plugin::legacy-type", 1), ("meltc::schedule::legacy", 2), ("meltc::yaml::unquoted-date", 2)]),
    ("06-meltano-meltano-state-backend-postgresql", 0, &[]),
    ("07-MeltanoLabs-tap-github", 0, &[("meltc::plugin::local-path", 1)]),
    ("09-MeltanoLabs-target-postgres", 0, &[("meltc::plugin::local-path", 1), ("meltc::setting::literal-secret", 1)]),
    ("10-MeltanoLabs-meltano-map-transform", 0, &[]),
    ("12-MeltanoLabs-tap-pulumi-cloud", 0, &[("meltc::plugin::local-path", 1)]),
    ("13-DouweM-pixbyt", 1, &[("meltc::plugin::local-path-used", 1)]),
    ("15-edgarrmondragon-meltano-dogfood", 1, &[("meltc::plugin::local-path", 3), ("meltc::plugin::local-path-used", 5), ("meltc::state::ephemeral", 3)]),
    ("16-reservoir-data-tap-npm", 0, &[("meltc::plugin::local-path", 1)]),
    // `dagster` installs `-e ${MELTANO_PROJECT_ROOT}/..`, the repository above the project:
    // no image built from the project can carry it, and a job runs it (an error here too).
    ("18-quantile-development-dagster-meltano", 1, &[("meltc::plugin::local-path-used", 1)]),
    // Job `help` runs `meltano --help` as blocks: `meltano run help` fails with "Block meltano
    // not found" (and stops there, so `--help` is not reported). `-e /workspace` is a dev
    // container's mount: an absolute path no image build can carry (no job runs it).
    // `DBT_POSTGRES_PASSWORD: postgres` in the `env:` of two plugins: a literal secret each.
    ("19-quantile-development-dagster-ext", 1, &[("meltc::env::literal-secret", 2), ("meltc::plugin::local-path", 1), ("meltc::ref::unknown-plugin", 1), ("meltc::setting::literal-secret", 1)]),
    ("21-JulesHuisman-geospatial-integration", 0, &[]),
    // Matatika variants exist only in their lock files (Matatika runs its own hub). The
    // tap-salesforce lock's `api_type` defaults to `REST`, and the setting lists no options:
    // `meltano config`, `run` and `compile` fail on it (tests/compile_meltano).
    ("22-Matatika-example-salesforce-sensitive-data", 0, &[("meltc::plugin::lock-only-variant", 1), ("meltc::setting::invalid-value", 1)]),
    ("24-MatatikaBytes-5X-Sandbox-cuisrqm", 0, &[("meltc::plugin::lock-only-variant", 2)]),
    ("25-MatatikaBytes-Meltano-jyiczzd", 0, &[("meltc::plugin::legacy-files", 1), ("meltc::plugin::legacy-type", 1), ("meltc::plugin::lock-only-variant", 2)]),
    ("27-GaloyMoney-lana-bank", 1, &[("meltc::plugin::local-path-used", 3), ("meltc::setting::literal-secret", 1), ("meltc::state::ephemeral", 1)]),
    ("28-linuxfoundation-lfx-v1-sync-helper", 0, &[("meltc::plugin::local-path", 1)]),
    ("30-Widen-dagster-meltano-example", 0, &[]),
    ("31-alfredosa-dagster-meltano", 0, &[("meltc::state::ephemeral", 1)]),
    // `target-snowflake-ssb`: no namespace, no lock, not on the hub (SOURCES.md).
    ("33-radbrt-prefect-warehouse", 0, &[("meltc::plugin::unresolved", 1)]),
    ("34-orchestra-hq-orchestra-blueprints", 0, &[]),
    ("36-datacosmos-br-gruponos-meltano-native", 0, &[]),
    ("37-PawsForLife-meltano-plugins", 0, &[]),
    ("39-AutoIDM-prodder_public", 0, &[("meltc::ref::environment-plugin", 1), ("meltc::state::ephemeral", 1)]),
    // `variant: original` follows the hub's default variant.
    ("40-andrewcstewart-ds4fnp", 0, &[("meltc::plugin::variant-alias", 1)]),
    ("42-FreshConsulting-meltano-in-astronomer", 0, &[]),
    ("43-jdavredbeard-dora-dashboard-example", 0, &[]),
    ("45-miroslawsteblik-patients-data-pipeline", 0, &[]),
    ("46-archdotdev-tap-adp", 0, &[("meltc::plugin::local-path", 1), ("meltc::setting::literal-secret", 1), ("meltc::yaml::unquoted-date", 1)]),
    ("48-pnadolny13-meltano_example_implementations", 0, &[("meltc::plugin::legacy-files", 1)]),
    ("49-matsonj-nba-monte-carlo", 0, &[]),
    // `:pip_url` (a typo Meltano silently keeps as an extra).
    ("51-archiewood-meltano-evidence-monorepo", 0, &[("meltc::key::unknown", 1)]),
    ("52-sbalnojan-vscode-ext-demo", 0, &[]),
    ("54-andriichumak-gooddata-pluto-day", 0, &[("meltc::plugin::local-path", 1)]),
    ("55-caiocvelasco-project09-meltano-s3-dbt-snowflake-observability-ci-cd", 0, &[]),
    ("57-mfrachet-all-for-one", 0, &[]),
    // `plugins:` with nothing under it (Meltano reads it as none; its lint rejects the null).
    ("58-voxmedia-tap-elasticsearch", 0, &[("meltc::value::null", 1)]),
    ("61-fleetio-tap-fleetio", 0, &[("meltc::plugin::local-path", 1)]),
    // Hub-only keys (`keywords`, `maintenance_status`) on two plugins and `default:` in three
    // settings; an inline `cli.log_config` mapping, which Meltano ignores.
    ("63-ajdoyl2-freelancer-data-stack", 0, &[("meltc::key::unknown", 7), ("meltc::value::type", 1)]),
    ("64-Learnfa-mag7-intel-lakehouse", 0, &[]),
];

#[test]
fn every_corpus_project_validates_as_pinned() {
    let corpus = shared().join("corpus");
    let mut folders: Vec<String> = fs_err::read_dir(&corpus)
        .expect("corpus")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let pinned: Vec<String> = EXPECTED
        .iter()
        .map(|(name, ..)| (*name).to_owned())
        .collect();
    assert_eq!(folders, pinned, "the table must list every corpus project");
    let mut failures = Vec::new();
    for (name, code, counts) in EXPECTED {
        let run = meltc(&corpus.join(name), &["validate", "--format", "json"]);
        let mut actual: BTreeMap<String, usize> = BTreeMap::new();
        for (found, ..) in json_rows(&run.stdout) {
            *actual.entry(found).or_default() += 1;
        }
        let expected: BTreeMap<String, usize> =
            counts.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect();
        if run.code != *code || actual != expected {
            failures.push(format!("{name}: exit {} (expected {code})\n  actual   {actual:?}\n  expected {expected:?}\n{}", run.code, run.stderr));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Meltano's schema and meltc's over every corpus file: the differences are exactly the
/// reviewed ones in schemas/corpus-differences.json, each with its reason.
#[test]
fn schema_differences_with_meltano_are_the_reviewed_ones() {
    let shared = shared();
    let table: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(crate::support::repo().join("schemas/corpus-differences.json"))
            .unwrap(),
    )
    .unwrap();
    let load_schema =
        |text: &str| jsonschema::validator_for(&serde_json::from_str(text).unwrap()).unwrap();
    let meltano = load_schema(
        &fs_err::read_to_string(shared.join("reference/meltano/meltano.schema.json")).unwrap(),
    );
    let ours = load_schema(meltc::validate::SCHEMA);
    let mut failures = Vec::new();
    let projects = table.as_object().expect("an object per project");
    assert_eq!(
        projects.len(),
        EXPECTED.len(),
        "one entry per corpus project"
    );
    for (project, entry) in projects {
        let mut meltano_only = BTreeSet::new();
        let mut meltc_only = BTreeSet::new();
        for file in entry["files"].as_array().unwrap() {
            let file = file.as_str().unwrap();
            let path = shared.join("corpus").join(project).join(file);
            let source = meltc::diagnostics::SourceFile::new(
                file,
                &path,
                fs_err::read_to_string(&path).unwrap(),
            );
            let root = meltc::yaml::parse(meltc::diagnostics::FileId(0), &source)
                .root
                .expect("corpus files parse");
            let instance = root.to_json();
            let errors = |validator: &jsonschema::Validator| -> BTreeSet<(String, String, String)> {
                validator
                    .iter_errors(&instance)
                    .map(|e| {
                        (
                            file.to_owned(),
                            e.instance_path().as_str().to_owned(),
                            e.kind().keyword().to_owned(),
                        )
                    })
                    .collect()
            };
            let (theirs, mine) = (errors(&meltano), errors(&ours));
            meltano_only.extend(theirs.difference(&mine).cloned());
            meltc_only.extend(mine.difference(&theirs).cloned());
        }
        let reviewed = |key: &str| -> BTreeSet<(String, String, String)> {
            entry[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    assert!(
                        d["why"].as_str().is_some_and(|why| !why.is_empty()),
                        "{project}: a difference without a reason"
                    );
                    (
                        d["file"].as_str().unwrap().to_owned(),
                        d["path"].as_str().unwrap().to_owned(),
                        d["keyword"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        if meltano_only != reviewed("meltano_only") || meltc_only != reviewed("meltc_only") {
            failures.push(format!(
                "{project}:\n  meltano only {meltano_only:?}\n  meltc only   {meltc_only:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "schema differences changed (update schemas/corpus-differences.json with reasons):\n{}",
        failures.join("\n")
    );
}

/// The defects SOURCES.md lists under "Deviations", each at its file and line. (Its `start_date`
/// schema errors come from YAML 1.1 dates and do not exist under the run time's YAML 1.2; 58's
/// `plugins: null` is accepted by Meltano's run time; both are in schemas/corpus-differences.json.)
#[rustfmt::skip]
const DEVIATIONS: &[(&str, &str, &str, u64)] = &[
    ("01-meltano-squared", "meltc::plugin::lock-only-variant", "load/loaders.meltano.yml", 38),
    ("03-meltano-meltano-multifile", "meltc::plugin::unresolved-used", "meltano.yml", 38),
    ("03-meltano-meltano-multifile", "meltc::plugin::unresolved-used", "meltano.yml", 48),
    ("03-meltano-meltano-multifile", "meltc::plugin::unresolved-used", "meltano.yml", 54),
    ("03-meltano-meltano-multifile", "meltc::plugin::unresolved-used", "subconfig_2.yml", 4),
    ("03-meltano-meltano-multifile", "meltc::plugin::unresolved-used", "subconfig_2.yml", 7),
    ("03-meltano-meltano-multifile", "meltc::plugin::unresolved-used", "subfolder/subconfig_1.yml", 3),
    ("03-meltano-meltano-multifile", "meltc::plugin::unresolved-used", "subfolder/subconfig_1.yml", 6),
    ("04-meltano-demo-project", "meltc::key::unknown", "meltano.yml", 61),
    ("04-meltano-demo-project", "meltc::plugin::legacy-files", "meltano.yml", 75),
    ("04-meltano-demo-project", "meltc::plugin::legacy-files", "meltano.yml", 77),
    ("04-meltano-demo-project", "meltc::schedule::legacy", "meltano.yml", 80),
    ("04-meltano-demo-project", "meltc::schedule::legacy", "meltano.yml", 89), // at `transform: run`, which meltc-run does not carry out
    ("19-quantile-development-dagster-ext", "meltc::ref::unknown-plugin", "meltano.yml", 116),
    ("22-Matatika-example-salesforce-sensitive-data", "meltc::plugin::lock-only-variant", "meltano.yml", 11),
    ("24-MatatikaBytes-5X-Sandbox-cuisrqm", "meltc::plugin::lock-only-variant", "meltano.yml", 21),
    ("24-MatatikaBytes-5X-Sandbox-cuisrqm", "meltc::plugin::lock-only-variant", "meltano.yml", 32),
    ("25-MatatikaBytes-Meltano-jyiczzd", "meltc::plugin::lock-only-variant", "meltano.yml", 15),
    ("25-MatatikaBytes-Meltano-jyiczzd", "meltc::plugin::legacy-type", "meltano.yml", 21),
    ("25-MatatikaBytes-Meltano-jyiczzd", "meltc::plugin::lock-only-variant", "meltano.yml", 31),
    ("25-MatatikaBytes-Meltano-jyiczzd", "meltc::plugin::legacy-files", "meltano.yml", 33),
    ("33-radbrt-prefect-warehouse", "meltc::plugin::unresolved", "meltano.yml", 24),
    ("40-andrewcstewart-ds4fnp", "meltc::plugin::variant-alias", "meltano.yml", 7),
    ("48-pnadolny13-meltano_example_implementations", "meltc::plugin::legacy-files", "meltano.yml", 25),
    ("51-archiewood-meltano-evidence-monorepo", "meltc::key::unknown", "meltano.yml", 19),
    ("63-ajdoyl2-freelancer-data-stack", "meltc::key::unknown", "meltano.yml", 64),
    ("63-ajdoyl2-freelancer-data-stack", "meltc::key::unknown", "meltano.yml", 67),
    ("63-ajdoyl2-freelancer-data-stack", "meltc::key::unknown", "meltano.yml", 75),
    ("63-ajdoyl2-freelancer-data-stack", "meltc::key::unknown", "meltano.yml", 83),
    ("63-ajdoyl2-freelancer-data-stack", "meltc::key::unknown", "meltano.yml", 87),
    ("63-ajdoyl2-freelancer-data-stack", "meltc::key::unknown", "meltano.yml", 95),
    ("63-ajdoyl2-freelancer-data-stack", "meltc::key::unknown", "meltano.yml", 99),
];

#[test]
fn sources_deviations_are_reported_at_their_lines() {
    let corpus = shared().join("corpus");
    let mut missing = Vec::new();
    let mut runs = BTreeMap::new();
    for (project, code, file, line) in DEVIATIONS {
        let rows = runs.entry(*project).or_insert_with(|| {
            json_rows(&meltc(&corpus.join(project), &["validate", "--format", "json"]).stdout)
        });
        if !rows
            .iter()
            .any(|(c, _, f, l)| c == code && f == file && l == line)
        {
            missing.push(format!("{project}: {code} at {file}:{line}"));
        }
    }
    assert!(
        missing.is_empty(),
        "deviations not reported where expected:\n{}",
        missing.join("\n")
    );
}

/// Projects whose cron schedules run incremental extractors on the default `systemdb`: `meltc
/// build` refuses them (README "`meltc build`", "State that a pod would lose") until
/// `--allow-ephemeral-state`.
const STATE_LOST: &[&str] = &[
    "01-meltano-squared",
    "02-meltano-meltano",
    "39-AutoIDM-prodder_public",
];

/// `meltc build --all-envs` succeeds on every project that validates, and every manifest it
/// writes reads back.
#[test]
fn every_valid_corpus_project_builds() {
    let corpus = shared().join("corpus");
    let mut failures = Vec::new();
    let mut manifests = 0;
    for (name, ..) in EXPECTED.iter().filter(|(_, code, _)| *code == 0) {
        let out = tempfile::tempdir().unwrap();
        let out_arg = out.path().to_string_lossy().into_owned();
        let mut args = vec!["build", "--all-envs", "--out", out_arg.as_str()];
        if STATE_LOST.contains(name) {
            let refused = meltc(&corpus.join(name), &args);
            if refused.code != 1 || !refused.stderr.contains("meltc::build::state-lost") {
                failures.push(format!(
                    "{name}: expected the state-lost refusal\n{}",
                    refused.stderr
                ));
            }
            args.push("--allow-ephemeral-state");
        }
        let run = meltc(&corpus.join(name), &args);
        if run.code != 0 {
            failures.push(format!("{name}: exit {}\n{}", run.code, run.stderr));
            continue;
        }
        for entry in walkdir::WalkDir::new(out.path()).into_iter().flatten() {
            if entry.file_name() == "manifest.json" {
                let text = fs_err::read_to_string(entry.path()).unwrap();
                if let Err(error) = meltc::manifest::Manifest::from_json(&text) {
                    failures.push(format!("{name}: {}: {error}", entry.path().display()));
                }
                manifests += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(manifests >= 60, "only {manifests} manifests");
}
