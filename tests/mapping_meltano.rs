//! A mapping at run time, against the real Meltano: the config file and the variables
//! `meltc-run` hands a mapping's mapper, through `invoke MAPPING` and as a block of `run`, are
//! the ones `meltano invoke MAPPING` hands it (Meltano 4.4.1).
//!
//! A mapping is a plugin of its own (`resolve::mapping`): the mapper with its `config`
//! replaced by the mapping's, the environment's entry for the mapper still applied, and at run
//! time the mapping's top-level keys written over the config file once more, expanded against
//! the process and the project's `env:` only (`SingerMapper.before_configure`). The mapper of
//! the test is a script that copies its config file and its `MY_MAPPER_*` variables into a
//! folder named by `DUMP`.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{meltc, tool};

const MAPPER: &str = "#!/bin/sh
# Copy the config file (--config FILE) and the mapper's variables, then pass records through.
mkdir -p \"$DUMP\"
while [ $# -gt 0 ]; do
  if [ \"$1\" = --config ]; then cp \"$2\" \"$DUMP/config.json\"; fi
  shift
done
env | grep '^MY_MAPPER' | sort > \"$DUMP/env.txt\"
cat
";

const TAP: &str = "#!/bin/sh
echo '{\"type\": \"SCHEMA\", \"stream\": \"s\", \"schema\": {\"properties\": {}}, \"key_properties\": []}'
echo '{\"type\": \"RECORD\", \"stream\": \"s\", \"record\": {}}'
";

const TARGET: &str = "#!/bin/sh\ncat > /dev/null\n";

fn project(root: &Path) -> String {
    let bin = root.join("bin");
    format!(
        "env:
  PROJ_V: projv
plugins:
  extractors:
  - name: tap-dump
    namespace: tap_dump
    executable: {bin}/tap-dump
  loaders:
  - name: target-dump
    namespace: target_dump
    executable: {bin}/target-dump
  mappers:
  - name: my-mapper
    namespace: my_mapper
    executable: {bin}/mapper-dump
    env:
      PLUG_V: plugv
    settings:
    - name: c
      value: cdefault
    config:
      a: 1
    mappings:
    - name: my-mapping
      config:
        stream_maps:
          s:
            x: __NULL__
            dropped:
        p: ${{PROJ_V}}
        e: ${{ENV_V}}
        q: ${{PLUG_V}}
        v: ${{SHELL_V}}
    - name: other
environments:
- name: dev
  env:
    ENV_V: envv
  config:
    plugins:
      mappers:
      - name: my-mapper
        config:
          b: 2
          stream_maps:
            s:
              y: from-dev
",
        bin = bin.display()
    )
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::write(path, text).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The dumped config file and variables.
fn dumped(dir: &Path) -> (Value, String) {
    let config = fs_err::read_to_string(dir.join("config.json"))
        .unwrap_or_else(|e| panic!("the mapper ran with a config file ({e})"));
    let env = fs_err::read_to_string(dir.join("env.txt")).unwrap();
    (serde_json::from_str(&config).unwrap(), env)
}

fn base_command(program: &Path, root: &Path, dump: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(root)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", root.join("home"))
        .env("LANG", "C.UTF-8")
        .env("SHELL_V", "shellv")
        .env("DUMP", dump)
        .stdin(Stdio::null());
    command
}

#[test]
fn meltc_run_hands_a_mapping_what_meltano_invoke_hands_it() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("project");
    fs_err::create_dir_all(root.join("bin")).unwrap();
    write_executable(&root.join("bin/mapper-dump"), MAPPER);
    write_executable(&root.join("bin/tap-dump"), TAP);
    write_executable(&root.join("bin/target-dump"), TARGET);
    fs_err::write(root.join("meltano.yml"), project(&root)).unwrap();
    let build = meltc(&root, &["build", "--env", "dev", "--emit", "manifest"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let manifest = root.join("deploy/dev/manifest.json");
    for mapping in ["my-mapping", "other"] {
        let dumps = temp.path().join("dumps").join(mapping);
        let meltano = dumps.join("meltano");
        let output = base_command(&tool("meltano"), &root, &meltano)
            .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env("MELTANO_HUB_URL", "http://127.0.0.1:9")
            .args(["--environment=dev", "invoke", mapping])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "meltano invoke {mapping}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let theirs = dumped(&meltano);
        let runner = std::path::PathBuf::from(env!("CARGO_BIN_EXE_meltc-run"));
        let invoked = dumps.join("meltc-run-invoke");
        let output = base_command(&runner, &root, &invoked)
            .env("MELTC_MANIFEST", &manifest)
            .env("MELTANO_PROJECT_ROOT", &root)
            .args(["invoke", mapping])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "meltc-run invoke {mapping}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(dumped(&invoked), theirs, "meltc-run invoke {mapping}");
        let blocks = dumps.join("meltc-run-run");
        let output = base_command(&runner, &root, &blocks)
            .env("MELTC_MANIFEST", &manifest)
            .env("MELTANO_PROJECT_ROOT", &root)
            .args(["run", "tap-dump", mapping, "target-dump"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "meltc-run run tap-dump {mapping} target-dump: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // In a run, the mapper also sees the tap's variables: compare its own.
        assert_eq!(dumped(&blocks), theirs, "meltc-run run ... {mapping} ...");
    }
    // The rule, as seen from Meltano: replaced (no `a`), the environment's entry applied (`b`,
    // and `y` only where the mapping does not write `stream_maps` itself), the mapping's keys
    // expanded against the process and the project `env:` only.
    let (config, env) = dumped(&temp.path().join("dumps/my-mapping/meltano"));
    assert_eq!(
        config,
        serde_json::json!({"c": "cdefault", "stream_maps": {"s": {"x": "__NULL__", "dropped": null}},
            "p": "projv", "e": "", "q": "", "v": "shellv", "b": 2})
    );
    assert!(
        env.contains("MY_MAPPER__MAPPING_NAME=my-mapping\n"),
        "{env}"
    );
    assert!(env.contains("MY_MAPPER__MAPPING=true\n"), "{env}");
}
