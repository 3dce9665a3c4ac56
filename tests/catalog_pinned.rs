//! Pinned catalogs (`meltc catalog`) against the real `meltanolabs-tap-postgres` and a real
//! PostgreSQL: the example project's `tap-postgres` discovered in `dev`, stored in
//! `catalogs/tap-postgres.json` without any config value, `--check` clean while nothing
//! changed and naming the column an `ALTER TABLE ... ADD COLUMN` added (exit 1); then
//! `meltc build` lists the streams meltc-run selects from it (the example's `select` and
//! `metadata` rules applied), the image's build folder carries it, and meltc-run uses it
//! instead of discovering until `--refresh-catalog`.

use crate::runtime_e2e::{Lakehouse, PASSWORD};
use crate::support::postgres::Postgres;
use crate::support::{Run, meltc_isolated};

pub(crate) fn meltc_catalog(lab: &Lakehouse, args: &[&str]) -> Run {
    let mut env: Vec<(String, String)> = lab.env.clone().into_iter().collect();
    env.push((
        "MELTC_PLUGINS_DIR".to_owned(),
        lab.dir.path().join("plugins").display().to_string(),
    ));
    let mut all = vec!["catalog", "--env", "dev"];
    all.extend(args);
    let run = meltc_isolated(&lab.root(), &all, &env);
    assert!(
        !run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD),
        "the password was printed:\n{}{}",
        run.stdout,
        run.stderr
    );
    run
}

fn columns(catalog: &serde_json::Value, stream: &str) -> Vec<String> {
    let stream = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["tap_stream_id"] == stream)
        .unwrap_or_else(|| panic!("no stream {stream}"));
    stream["schema"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn tap_postgres_catalog_is_pinned_and_checked_against_upstream() {
    let postgres = Postgres::start();
    let lab = Lakehouse::new(&postgres, &[]);
    let written = meltc_catalog(&lab, &["tap-postgres"]);
    assert_eq!(written.code, 0, "{}{}", written.stdout, written.stderr);
    assert_eq!(
        written.stdout,
        "tap-postgres: 3 streams written to catalogs/tap-postgres.json\n"
    );
    let path = lab.root().join("catalogs/tap-postgres.json");
    let text = fs_err::read_to_string(&path).unwrap();
    assert!(!text.contains(PASSWORD), "a config value in the catalog");
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["meltc_catalog"], 1);
    assert_eq!(file["key"].as_str().unwrap().len(), 40);
    // The tap's own catalog, before any selection rule: `password_hash` is there.
    let mut customers = columns(&file["catalog"], "public-customers");
    customers.sort();
    assert_eq!(customers, ["created_at", "email", "id", "password_hash"]);

    let again = meltc_catalog(&lab, &["tap-postgres"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.stdout,
        "tap-postgres: 3 streams, catalogs/tap-postgres.json unchanged\n"
    );
    let clean = meltc_catalog(&lab, &["--check"]);
    // tap-github is not installed: --check of every extractor fails on it, by name.
    assert_eq!(clean.code, 2, "{}", clean.stdout);
    assert!(clean.stderr.contains("tap-github"), "{}", clean.stderr);
    assert!(
        clean.stderr.contains("nothing was written"),
        "{}",
        clean.stderr
    );
    let clean = meltc_catalog(&lab, &["--check", "tap-postgres"]);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert_eq!(
        clean.stdout,
        "tap-postgres: catalogs/tap-postgres.json is current\n"
    );

    postgres.sql("shop_dev", "ALTER TABLE orders ADD COLUMN note text");
    let changed = meltc_catalog(&lab, &["--check", "tap-postgres"]);
    assert_eq!(changed.code, 1, "{}{}", changed.stdout, changed.stderr);
    assert_eq!(
        changed.stdout,
        "tap-postgres: catalogs/tap-postgres.json: stream `public-orders`: column `note` added\n\
         the pinned catalogs are out of date: run `meltc catalog --env dev` and review the diff\n"
    );
    assert_eq!(
        fs_err::read_to_string(&path).unwrap(),
        text,
        "--check writes nothing"
    );
    postgres.sql("shop_dev", "CREATE TABLE refunds (id serial PRIMARY KEY)");
    let updated = meltc_catalog(&lab, &["tap-postgres"]);
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    assert_eq!(
        updated.stdout,
        "tap-postgres: 4 streams written to catalogs/tap-postgres.json\n"
    );
    let file: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
    assert!(columns(&file["catalog"], "public-orders").contains(&"note".to_owned()));
}

#[test]
fn the_manifest_lists_the_selected_streams_and_a_run_uses_the_pinned_catalog() {
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
    let deploy = lab.root().join("deploy/dev");
    let manifest: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(deploy.join("manifest.json")).unwrap())
            .unwrap();
    crate::support::manifest_validator()
        .validate(&manifest)
        .unwrap_or_else(|error| panic!("{error}"));
    let tap = manifest["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tap-postgres")
        .unwrap();
    assert_eq!(tap["catalog"]["file"], "catalogs/tap-postgres.json");
    let streams = tap["catalog"]["streams"].as_array().unwrap();
    let ids: Vec<&str> = streams
        .iter()
        .map(|s| s["tap_stream_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["public-customers", "public-order_items", "public-orders"]
    );
    let by_id = |id: &str| streams.iter().find(|s| s["tap_stream_id"] == id).unwrap();
    let customers: Vec<&str> = by_id("public-customers")["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        !customers.contains(&"password_hash"),
        "`!public-customers.password_hash` deselects it: {customers:?}"
    );
    assert!(customers.contains(&"email"), "{customers:?}");
    let orders = by_id("public-orders");
    assert_eq!(orders["replication_method"], "INCREMENTAL");
    assert_eq!(orders["replication_key"], "updated_at");
    assert_eq!(orders["key_properties"], serde_json::json!(["id"]));
    assert_eq!(
        fs_err::read_to_string(deploy.join("catalogs/tap-postgres.json")).unwrap(),
        fs_err::read_to_string(lab.root().join("catalogs/tap-postgres.json")).unwrap()
    );
    let dockerfile = fs_err::read_to_string(deploy.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("COPY catalogs/ /etc/meltc/catalogs/"),
        "{dockerfile}"
    );

    // A run uses the pinned catalog (no discovery) and copies what the manifest lists.
    let (code, stderr) = lab.meltc_run(&["job", "postgres-to-jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("tap-postgres: using the pinned catalog"),
        "{stderr}"
    );
    assert_eq!(lab.records("public-orders").len(), 20);
    assert!(
        lab.records("public-customers")
            .iter()
            .all(|r| r.get("password_hash").is_none())
    );
    // --refresh-catalog discovers, as for Meltano's cache (a full refresh: all the rows again).
    let (code, stderr) = lab.meltc_run(&[
        "job",
        "postgres-to-jsonl",
        "--refresh-catalog",
        "--full-refresh",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("pinned catalog"), "{stderr}");
    assert_eq!(lab.records("public-orders").len(), 20);
}
