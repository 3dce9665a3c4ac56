//! Issue 18's acceptance with real Dagster: the example's `postgres-to-jsonl` job (real
//! `tap-postgres` on a real PostgreSQL into `target-jsonl`), built with a pinned catalog, is
//! an asset job of the generated `definitions.py`; Dagster executes it (`DAGSTER_HOME` a
//! temporary folder) and its event log (`DagsterInstance`) holds one materialization per
//! stream whose `dagster/row_count` is the records target-jsonl wrote; a second run reports
//! only the new rows of the incremental stream; a failing step fails the asset with
//! meltc-run's reason, which meltc-run sent through Dagster Pipes.

use std::collections::BTreeMap;
use std::process::Command;

use crate::catalog_pinned::meltc_catalog;
use crate::runtime_e2e::Lakehouse;
use crate::support::postgres::Postgres;
use crate::support::tool;

/// Executes a Meltano job's Dagster job and prints what the instance's event log says of it.
const EXECUTE: &str = r#"
import importlib.util, json, sys
import dagster as dg
spec = importlib.util.spec_from_file_location("definitions", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
instance = dg.DagsterInstance.get()
job = module.defs.resolve_job_def(module.JOBS[sys.argv[2]].name)
result = job.execute_in_process(instance=instance, raise_on_error=False)
out = {"success": result.success, "materializations": {}, "pipes_errors": []}
for record in instance.all_logs(result.run_id):
    event = record.dagster_event
    if event is None:
        continue
    if event.event_type_value == "ASSET_MATERIALIZATION":
        m = event.event_specific_data.materialization
        out["materializations"][m.asset_key.to_user_string()] = {
            key: value.value for key, value in m.metadata.items()
        }
    elif event.event_type_value == "ENGINE_EVENT" and "pipes closed with exception" in (event.message or ""):
        out["pipes_errors"].append(event.event_specific_data.error.message)
print(json.dumps(out, default=str))
"#;

fn execute(lab: &Lakehouse, home: &std::path::Path, job: &str) -> serde_json::Value {
    let _ = fs_err::remove_dir_all(lab.root().join("output"));
    let python = fs_err::canonicalize(tool("dagster"))
        .unwrap()
        .parent()
        .unwrap()
        .join("python");
    let script = home.join("execute.py");
    fs_err::write(&script, EXECUTE).unwrap();
    let env: BTreeMap<String, String> = lab.env.clone();
    let output = Command::new(python)
        .arg(&script)
        .arg(lab.root().join("deploy/dev/dagster/definitions.py"))
        .arg(job)
        .current_dir(lab.root())
        .env_clear()
        .envs(&env)
        .env("DAGSTER_HOME", home)
        .env("MELTC_RUN", env!("CARGO_BIN_EXE_meltc-run"))
        .env(
            "MELTC_MANIFEST",
            lab.root().join("deploy/dev/manifest.json"),
        )
        .env("MELTC_PLUGINS_DIR", lab.dir.path().join("plugins"))
        .env("MELTANO_PROJECT_ROOT", lab.root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|error| panic!("{error}: {stdout}\n{stderr}"))
}

fn rows(result: &serde_json::Value, key: &str) -> u64 {
    result["materializations"][key]["dagster/row_count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no row count for {key}: {result}"))
}

#[test]
fn dagster_materializes_a_job_s_assets_with_meltc_run_s_row_counts() {
    let postgres = Postgres::start();
    let state = tempfile::tempdir().unwrap();
    let lab = Lakehouse::new(
        &postgres,
        &[(
            "MELTANO_STATE_BACKEND_URI",
            format!("file://{}", state.path().display()),
        )],
    );
    let written = meltc_catalog(&lab, &["tap-postgres"]);
    assert_eq!(written.code, 0, "{}{}", written.stdout, written.stderr);
    let build = crate::support::meltc(&lab.root(), &["build", "--env", "dev"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let home = tempfile::tempdir().unwrap();
    let streams = [
        ("target_jsonl/public_customers", "public-customers"),
        ("target_jsonl/public_order_items", "public-order_items"),
        ("target_jsonl/public_orders", "public-orders"),
    ];

    // First materialization: every row, counted per stream as target-jsonl wrote them.
    let first = execute(&lab, home.path(), "postgres-to-jsonl");
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(
        first["materializations"].as_object().unwrap().len(),
        3,
        "{first}"
    );
    for (key, stream) in streams {
        assert_eq!(
            rows(&first, key),
            lab.records(stream).len() as u64,
            "{key}: {first}"
        );
    }
    assert_eq!(rows(&first, "target_jsonl/public_orders"), 20);
    let orders = &first["materializations"]["target_jsonl/public_orders"];
    assert!(
        orders["meltc/bookmark_after"]
            .to_string()
            .contains("2025-01-01T20:00:00"),
        "{orders}"
    );

    // Second: the incremental stream carries only the rows changed since its bookmark.
    postgres.sql(
        "shop_dev",
        "INSERT INTO orders (customer_id, amount, updated_at) \
           SELECT 1, g, timestamptz '2025-02-01' + g * interval '1 hour' \
           FROM generate_series(1, 3) g",
    );
    let second = execute(&lab, home.path(), "postgres-to-jsonl");
    assert_eq!(second["success"], true, "{second}");
    let new_orders = rows(&second, "target_jsonl/public_orders");
    assert_eq!(
        new_orders,
        lab.records("public-orders").len() as u64,
        "{second}"
    );
    // The 3 new orders and the bookmark's own row: the SDK's incremental query is
    // `updated_at >= bookmark`.
    assert_eq!(new_orders, 4, "{second}");
    let orders = &second["materializations"]["target_jsonl/public_orders"];
    assert_eq!(
        orders["meltc/bookmark_before"]["replication_key_value"],
        "2025-01-01T20:00:00.000000+00:00",
        "{orders}"
    );
    assert_eq!(
        orders["meltc/bookmark_after"]["replication_key_value"], "2025-02-01T03:00:00.000000+00:00",
        "{orders}"
    );

    // A failing step (the table the pinned catalog names is gone upstream) fails the asset
    // with meltc-run's reason in the event log.
    postgres.sql(
        "shop_dev",
        "ALTER TABLE order_items RENAME TO order_items_old",
    );
    let third = execute(&lab, home.path(), "postgres-to-jsonl");
    assert_eq!(third["success"], false, "{third}");
    assert!(
        third["materializations"].as_object().unwrap().is_empty(),
        "{third}"
    );
    let reasons = third["pipes_errors"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{third}");
    assert_eq!(
        reasons[0], "tap-postgres -> target-jsonl: Extractor failed",
        "meltc-run's reason, as its log says it: {third}"
    );
}
