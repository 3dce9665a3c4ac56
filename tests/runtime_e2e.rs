//! `meltc-run` end to end with real components: the example project (examples/lakehouse) built
//! by `meltc build --env dev`, the real `meltanolabs-tap-postgres` reading a real PostgreSQL,
//! the real `target-jsonl` writing files, and incremental state on a `file://` folder or a
//! real Garage, shared both ways with the real `meltano run` / `meltano state get`.
//!
//! The example's `postgres-to-jsonl` job selects `public-customers.*` without
//! `password_hash`, `public-order_items.*`, and `public-orders.*` with `INCREMENTAL` on
//! `updated_at`. The SDK re-reads the bookmarked row on the next run (`>=`, Singer's
//! at-least-once contract), so "only the new rows" means the boundary row plus the new ones.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crate::support::garage::{self, Garage};
use crate::support::postgres::Postgres;
use crate::support::{copy_tree, meltano_batch, meltc, repo, tool};

pub(crate) const PASSWORD: &str = "pg-pa55-canary";
const JOB: &str = "postgres-to-jsonl";
const STATE_ID: &str = "dev:tap-postgres-to-target-jsonl";

/// The example project, built, with the test venvs where meltc-run and Meltano look for them.
pub(crate) struct Lakehouse {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) env: BTreeMap<String, String>,
}

impl Lakehouse {
    pub(crate) fn new(postgres: &Postgres, state: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        copy_tree(&repo().join("examples/lakehouse"), &root);
        fs_err::remove_dir_all(root.join("deploy")).unwrap();
        let build = meltc(&root, &["build", "--env", "dev"]);
        assert_eq!(build.code, 0, "{}", build.stderr);
        // Lock files, so that Meltano resolves the plugins without the Hub.
        let lock = meltc(&root, &["lock"]);
        assert_eq!(lock.code, 0, "{}", lock.stderr);
        for (kind, name) in [("extractors", "tap-postgres"), ("loaders", "target-jsonl")] {
            let venv = fs_err::canonicalize(tool(name))
                .unwrap()
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .to_path_buf();
            // meltc-run: MELTC_PLUGINS_DIR/<type>/<name> is the plugin's venv, as in the image.
            let plugins = dir.path().join("plugins").join(kind);
            fs_err::create_dir_all(&plugins).unwrap();
            std::os::unix::fs::symlink(&venv, plugins.join(name)).unwrap();
            // Meltano: only the executable is linked, never the shared venv, which an install
            // attempt would rewrite.
            let bin = root.join(".meltano").join(kind).join(name).join("venv/bin");
            fs_err::create_dir_all(&bin).unwrap();
            std::os::unix::fs::symlink(venv.join("bin").join(name), bin.join(name)).unwrap();
        }
        fs_err::create_dir_all(dir.path().join("tmp")).unwrap();
        postgres.sql(
            "postgres",
            &format!("CREATE ROLE meltano LOGIN PASSWORD '{PASSWORD}'"),
        );
        postgres.sql("postgres", "CREATE DATABASE shop_dev OWNER meltano");
        postgres.sql(
            "shop_dev",
            "CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL, \
               password_hash text, created_at timestamptz DEFAULT now()); \
             CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, \
               amount numeric(10, 2), updated_at timestamptz NOT NULL); \
             CREATE TABLE order_items (id serial PRIMARY KEY, order_id int REFERENCES orders, \
               sku text, qty int); \
             INSERT INTO customers (email, password_hash) \
               SELECT 'c' || g || '@example.com', 'hash-' || g FROM generate_series(1, 5) g; \
             INSERT INTO orders (customer_id, amount, updated_at) \
               SELECT 1 + g % 5, g * 1.5, timestamptz '2025-01-01' + g * interval '1 hour' \
               FROM generate_series(1, 20) g; \
             INSERT INTO order_items (order_id, sku, qty) \
               SELECT g, 'sku-' || g, 1 FROM generate_series(1, 20) g; \
             ALTER TABLE customers OWNER TO meltano; ALTER TABLE orders OWNER TO meltano; \
             ALTER TABLE order_items OWNER TO meltano;",
        );
        let mut env: BTreeMap<String, String> = [
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
            ("HOME", dir.path().join("home").display().to_string()),
            ("LANG", "C.UTF-8".to_owned()),
            ("TMPDIR", dir.path().join("tmp").display().to_string()),
            ("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false".to_owned()),
            ("PG_PASSWORD", PASSWORD.to_owned()),
            // meltano.yml says 5432; a setting's own variable beats meltano.yml.
            ("TAP_POSTGRES_PORT", postgres.port.to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        env.extend(
            state
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone())),
        );
        Self { dir, env }
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    /// `meltc-run ARGS` as the pod runs it; the output folder is emptied first.
    pub(crate) fn meltc_run(&self, args: &[&str]) -> (i32, String) {
        let _ = fs_err::remove_dir_all(self.root().join("output"));
        let output = Command::new(env!("CARGO_BIN_EXE_meltc-run"))
            .args(args)
            .current_dir(self.root())
            .env_clear()
            .envs(&self.env)
            .env(
                "MELTC_MANIFEST",
                self.root().join("deploy/dev/manifest.json"),
            )
            .env("MELTC_PLUGINS_DIR", self.dir.path().join("plugins"))
            .env("MELTANO_PROJECT_ROOT", self.root())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        self.assert_clean(&stderr);
        (output.status.code().unwrap_or(-1), stderr)
    }

    /// `meltano ARGS...` (each a command line) in one Python process, output folder emptied.
    fn meltano(&self, commands: &[&[&str]]) -> Vec<crate::support::MeltanoRun> {
        let _ = fs_err::remove_dir_all(self.root().join("output"));
        let argv: Vec<Vec<String>> = commands
            .iter()
            .map(|args| args.iter().map(|arg| (*arg).to_owned()).collect())
            .collect();
        meltano_batch(&self.root(), &self.env, &argv)
    }

    /// No private run folder is left behind, and the password never reaches the log.
    fn assert_clean(&self, stderr: &str) {
        let left: Vec<_> = fs_err::read_dir(self.dir.path().join("tmp"))
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
        assert!(
            !stderr.contains(PASSWORD),
            "the password was logged:\n{stderr}"
        );
    }

    /// The records target-jsonl wrote for `stream` (one file per stream and run).
    pub(crate) fn records(&self, stream: &str) -> Vec<serde_json::Value> {
        let mut records = Vec::new();
        let Ok(entries) = fs_err::read_dir(self.root().join("output")) else {
            return records;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{stream}-")) {
                for line in fs_err::read_to_string(entry.path()).unwrap().lines() {
                    records.push(serde_json::from_str(line).unwrap());
                }
            }
        }
        records
    }

    fn order_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .records("public-orders")
            .iter()
            .map(|record| record["id"].as_u64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    }

    pub(crate) fn insert_orders(&self, postgres: &Postgres, count: u32, day: u32) {
        postgres.sql(
            "shop_dev",
            &format!(
                "INSERT INTO orders (customer_id, amount, updated_at) \
                 SELECT 1, g, timestamptz '2025-02-{day:02}' + g * interval '1 minute' \
                 FROM generate_series(1, {count}) g;"
            ),
        );
    }
}

fn range(from: u64, to: u64) -> Vec<u64> {
    (from..=to).collect()
}

/// The bookmark of `public-orders` in a state value as `meltano state get` prints it.
fn bookmark(state: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(state.trim())
        .unwrap_or_else(|error| panic!("not a state ({error}): {state}"));
    value["singer_state"]["bookmarks"]["public-orders"]["replication_key_value"]
        .as_str()
        .unwrap_or_else(|| panic!("no orders bookmark in {state}"))
        .to_owned()
}

/// The whole acceptance sequence on one state backend.
fn incremental_runs_shared_with_meltano(lab: &Lakehouse, postgres: &Postgres) {
    // First run: everything, without the excluded column.
    let (code, log) = lab.meltc_run(&["job", JOB]);
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("cached catalog"), "{log}");
    let customers = lab.records("public-customers");
    assert_eq!(customers.len(), 5, "{log}");
    assert!(customers.iter().all(|c| c.get("password_hash").is_none()));
    assert_eq!(lab.records("public-order_items").len(), 20);
    assert_eq!(lab.order_ids(), range(1, 20));

    // Meltano reads the state meltc-run wrote.
    let got = lab.meltano(&[&["--environment", "dev", "state", "get", STATE_ID]]);
    assert_eq!(got[0].code, 0, "{}", got[0].stderr);
    assert_eq!(bookmark(&got[0].stdout), "2025-01-01T20:00:00.000000+00:00");

    // New rows: only those (and the boundary row) are copied.
    lab.insert_orders(postgres, 3, 1);
    let (code, log) = lab.meltc_run(&["job", JOB]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("using the cached catalog"), "{log}");
    assert_eq!(lab.order_ids(), [20, 21, 22, 23]);
    assert_eq!(
        lab.records("public-customers").len(),
        5,
        "full-table streams again"
    );

    // --full-refresh: all again.
    let (code, log) = lab.meltc_run(&["job", JOB, "--full-refresh"]);
    assert_eq!(code, 0, "{log}");
    assert!(
        !log.contains("cached catalog"),
        "a full refresh discovers:\n{log}"
    );
    assert_eq!(lab.order_ids(), range(1, 23));

    // The real `meltano run` continues from meltc-run's bookmark...
    lab.insert_orders(postgres, 2, 2);
    let ran = lab.meltano(&[
        &["--environment", "dev", "run", "--no-install", JOB],
        &["--environment", "dev", "state", "get", STATE_ID],
    ]);
    assert_eq!(ran[0].code, 0, "meltano run failed:\n{}", ran[0].stderr);
    assert_eq!(lab.order_ids(), [23, 24, 25], "{}", ran[0].stderr);
    let meltano_bookmark = bookmark(&ran[1].stdout);
    assert_eq!(meltano_bookmark, "2025-02-02T00:02:00.000000+00:00");

    // ...and meltc-run continues from Meltano's.
    lab.insert_orders(postgres, 1, 3);
    let (code, log) = lab.meltc_run(&["job", JOB]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(lab.order_ids(), [25, 26]);
    let (code, log) = lab.meltc_run(&["state", "get", STATE_ID]);
    assert_eq!(code, 0, "{log}");

    // Each meltc-run run kept the state it replaced beside state.json; Meltano still lists
    // the one state ID. A rollback puts back the bookmark from before the last run (Meltano's),
    // Meltano reads it, and the next run resumes from it: the same rows again.
    let (code, log) = lab.meltc_run(&["state", "rollback", STATE_ID]);
    assert_eq!(code, 0, "{log}");
    let read = lab.meltano(&[
        &["--environment", "dev", "state", "list"],
        &["--environment", "dev", "state", "get", STATE_ID],
    ]);
    assert_eq!(read[0].code, 0, "{}", read[0].stderr);
    assert_eq!(read[0].stdout.trim_end(), STATE_ID);
    assert_eq!(bookmark(&read[1].stdout), meltano_bookmark);
    let (code, log) = lab.meltc_run(&["job", JOB]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(lab.order_ids(), [25, 26]);
}

#[test]
fn postgres_to_jsonl_with_file_state_shared_with_meltano() {
    let postgres = Postgres::start();
    let state = tempfile::tempdir().unwrap();
    let lab = Lakehouse::new(
        &postgres,
        &[(
            "MELTANO_STATE_BACKEND_URI",
            format!("file://{}", state.path().display()),
        )],
    );
    incremental_runs_shared_with_meltano(&lab, &postgres);
    assert!(state.path().join(STATE_ID).join("state.json").is_file());
}

#[test]
fn postgres_to_jsonl_with_state_on_garage_shared_with_meltano() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let postgres = Postgres::start();
    // The example's own variables for the keys (its Secret), the endpoint and bucket of this
    // server instead of the cluster's.
    let lab = Lakehouse::new(
        &postgres,
        &[
            (
                "MELTANO_STATE_BACKEND_URI",
                format!("s3://{}/lakehouse", garage::BUCKET),
            ),
            (
                "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL",
                garage.endpoint.clone(),
            ),
            ("MELTANO_STATE_AWS_ACCESS_KEY_ID", garage.key_id.clone()),
            ("MELTANO_STATE_AWS_SECRET_ACCESS_KEY", garage.secret.clone()),
            // boto3 signs for this region (Meltano reads no project `env:` for its backend).
            ("AWS_DEFAULT_REGION", garage::REGION.to_owned()),
        ],
    );
    incremental_runs_shared_with_meltano(&lab, &postgres);
    let listed = lab.meltc_run(&["state", "list"]);
    assert_eq!(listed.0, 0, "{}", listed.1);
}

#[test]
fn a_missing_secret_stops_the_run_before_anything_starts() {
    let postgres = Postgres::start();
    let state = tempfile::tempdir().unwrap();
    let mut lab = Lakehouse::new(
        &postgres,
        &[(
            "MELTANO_STATE_BACKEND_URI",
            format!("file://{}", state.path().display()),
        )],
    );
    lab.env.remove("PG_PASSWORD");
    let (code, log) = lab.meltc_run(&["job", JOB]);
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("PG_PASSWORD (read by `password`) is not set"),
        "{log}"
    );
    assert!(lab.records("public-orders").is_empty());
    assert!(!state.path().join(STATE_ID).exists());

    // The state backend's keys too, named before any plugin starts.
    lab.env
        .insert("PG_PASSWORD".to_owned(), PASSWORD.to_owned());
    lab.env.remove("MELTANO_STATE_BACKEND_URI");
    let (code, log) = lab.meltc_run(&["job", JOB]);
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("MELTANO_STATE_AWS_ACCESS_KEY_ID"), "{log}");
    assert!(lab.records("public-orders").is_empty());
}
