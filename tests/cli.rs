//! The command line itself: help, version, exit codes, discovery, output formats.

use crate::support::{json_rows, meltc, meltc_with};

fn project(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("meltano.yml"), text).unwrap();
    dir
}

const CLEAN: &str = "default_environment: dev\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n  loaders:\n  - name: target-y\n    namespace: target_y\nenvironments:\n- name: dev\njobs:\n- name: sync\n  tasks: [tap-x target-y]\n";

#[test]
fn help_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let help = meltc(dir.path(), &["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("validate"), "{}", help.stdout);
    let validate_help = meltc(dir.path(), &["validate", "--help"]);
    assert!(
        validate_help
            .stdout
            .contains("Example: `meltc validate --format github`"),
        "{}",
        validate_help.stdout
    );
    let version = meltc(dir.path(), &["--version"]);
    assert_eq!(version.code, 0);
    assert!(version.stdout.starts_with("meltc "), "{}", version.stdout);
}

#[test]
fn usage_errors_exit_2() {
    let dir = project(CLEAN);
    assert_eq!(meltc(dir.path(), &["validate", "--format", "yaml"]).code, 2);
    assert_eq!(meltc(dir.path(), &["frobnicate"]).code, 2);
    let unknown_env = meltc(dir.path(), &["validate", "--env", "dve"]);
    assert_eq!(unknown_env.code, 2);
    assert!(
        unknown_env.stderr.contains("did you mean `dev`?"),
        "{}",
        unknown_env.stderr
    );
}

#[test]
fn clean_project_exits_0_and_says_so() {
    let dir = project(CLEAN);
    let run = meltc(dir.path(), &["validate"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            0,
            "meltano.yml (1 file, 1 environment): no problems found\n"
        )
    );
}

#[test]
fn project_is_found_from_a_subfolder_from_the_environment_and_from_the_flag() {
    let dir = project(CLEAN);
    let nested = dir.path().join("a/b");
    fs_err::create_dir_all(&nested).unwrap();
    assert_eq!(meltc(&nested, &["validate"]).code, 0);
    let elsewhere = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    assert_eq!(
        meltc_with(
            elsewhere.path(),
            &["validate"],
            &[("MELTANO_PROJECT_ROOT", root)]
        )
        .code,
        0
    );
    assert_eq!(meltc(elsewhere.path(), &["-C", root, "validate"]).code, 0);
    let missing = meltc(elsewhere.path(), &["validate"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("meltc::project::not-found"),
        "{}",
        missing.stderr
    );
}

#[test]
fn paths_are_shown_relative_to_the_working_directory() {
    let repository = tempfile::tempdir().unwrap();
    let root = repository.path().join("meltano");
    fs_err::create_dir_all(&root).unwrap();
    fs_err::write(
        root.join("meltano.yml"),
        CLEAN.replace("[tap-x target-y]", "[tap-x target-z]"),
    )
    .unwrap();
    let run = meltc(
        repository.path(),
        &["-C", "meltano", "validate", "--format", "github"],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .starts_with("::error file=meltano/meltano.yml,line=13,col=17,"),
        "{}",
        run.stdout
    );
}

#[test]
fn warnings_pass_unless_denied() {
    let dir = project(&CLEAN.replace(
        "default_environment: dev\n",
        "default_environment: dev\nflag: yes\n",
    ));
    let run = meltc(dir.path(), &["validate", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let rows = json_rows(&run.stdout);
    assert!(
        rows.iter().any(
            |(code, severity, file, line)| code == "meltc::yaml::ambiguous-bool"
                && severity == "warning"
                && file == "meltano.yml"
                && *line == 2
        ),
        "{rows:?}"
    );
    assert_eq!(meltc(dir.path(), &["validate", "--deny-warnings"]).code, 1);
}

#[test]
fn env_option_limits_environment_checks() {
    let text = "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\nenvironments:\n- name: dev\n  config:\n    plugins:\n      extractors:\n      - name: tap-typo\n- name: prod\n";
    let dir = project(text);
    assert_eq!(meltc(dir.path(), &["validate"]).code, 0);
    let all = json_rows(&meltc(dir.path(), &["validate", "--format", "json"]).stdout);
    assert!(
        all.iter()
            .any(|(code, ..)| code == "meltc::ref::environment-plugin")
    );
    let prod = json_rows(
        &meltc(
            dir.path(),
            &["validate", "--env", "prod", "--format", "json"],
        )
        .stdout,
    );
    assert!(
        !prod
            .iter()
            .any(|(code, ..)| code == "meltc::ref::environment-plugin"),
        "{prod:?}"
    );
}

#[test]
fn completions_and_man_page_cover_every_command() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = meltc(dir.path(), &["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for command in ["validate", "lock"] {
            assert!(
                run.stdout.contains(command),
                "{shell} completion lacks `{command}`"
            );
        }
    }
    let man = meltc(dir.path(), &["man"]);
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH meltc"),
        "{}",
        &man.stdout[..man.stdout.len().min(200)]
    );
    assert!(man.stdout.contains("validate") && man.stdout.contains("lock"));
    assert!(
        !man.stdout.contains("import-hub"),
        "hidden developer commands stay out of the man page"
    );
}

/// A secret's value reaches no output of `meltc config` (table, JSON, env, errors) unless
/// `--show-secrets` asks for it.
#[test]
fn config_never_prints_a_secret_unless_asked() {
    let dir = project(
        "plugins:\n  extractors:\n  - name: tap-s\n    namespace: tap_s\n    settings:\n    - {name: password, kind: password}\n    - {name: token, sensitive: true, kind: integer}\n    - {name: dsn, sensitive: true}\n    config:\n      dsn: postgres://u:${PASSWORD_PART}@h/db\n",
    );
    fs_err::write(
        dir.path().join(".env"),
        "TAP_S_TOKEN=hunter3-not-a-number\n",
    )
    .unwrap();
    let env = [("TAP_S_PASSWORD", "hunter2"), ("PASSWORD_PART", "hunter4")];
    let secrets = ["hunter2", "hunter3", "hunter4"];
    for format in ["table", "json", "env"] {
        let run = meltc_with(dir.path(), &["config", "tap-s", "--format", format], &env);
        assert_eq!(run.code, 1, "the token does not cast: {}", run.stderr);
        for secret in secrets {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{format} leaks {secret}:\n{}{}",
                run.stdout,
                run.stderr
            );
        }
    }
    fs_err::write(dir.path().join(".env"), "TAP_S_TOKEN=7\n").unwrap();
    for format in ["table", "json", "env"] {
        let hidden = meltc_with(dir.path(), &["config", "tap-s", "--format", format], &env);
        assert_eq!(hidden.code, 0, "{}", hidden.stderr);
        assert!(
            secrets.iter().all(|s| !hidden.stdout.contains(s)),
            "{}",
            hidden.stdout
        );
        let shown = meltc_with(
            dir.path(),
            &["config", "tap-s", "--format", format, "--show-secrets"],
            &env,
        );
        assert!(
            shown.stdout.contains("hunter2") && shown.stdout.contains("hunter4"),
            "{}",
            shown.stdout
        );
    }
}

/// Every subcommand's `--help` shows an example (the hidden maintainer tools aside).
#[test]
fn every_subcommand_help_has_an_example() {
    use clap::CommandFactory;
    let dir = tempfile::tempdir().unwrap();
    let command = meltc::cli::Cli::command();
    let names: Vec<&str> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(clap::Command::get_name)
        .collect();
    assert!(
        names.len() >= 10 && names.contains(&"graph") && names.contains(&"init-ci"),
        "{names:?}"
    );
    for name in names {
        let help = meltc(dir.path(), &[name, "--help"]);
        assert_eq!(help.code, 0, "{name}: {}", help.stderr);
        assert!(
            help.stdout.contains("Example: `meltc "),
            "`meltc {name} --help` has no example:\n{}",
            help.stdout
        );
    }
}
