//! The example's `prod` environment deployed for real: its generated Dockerfile built by a real
//! OCI builder (buildah), its CronJob's pod run as the kubelet would run it (bubblewrap in the
//! image's root filesystem, uid 10001, read-only root, `/tmp` an emptyDir, the environment
//! exactly from the ConfigMap and a Secret made from `secret.example.yaml`), against a real
//! PostgreSQL and a real Garage; the Parquet files the loader writes read back with pyarrow;
//! the generated Dagster definitions executed by the image's own Dagster.
//!
//! Only the base and carrier image names differ from the committed Dockerfile (through
//! `annotations.meltc.image`, which exists for that): no registry is reachable here. The pod
//! reaches the test's servers through a kustomize-style overlay of the ConfigMap (host and port
//! of the database, the S3 endpoint), the way a team points a deploy at other servers; the
//! prod config itself is unchanged (`sslmode=require`: the test database speaks TLS).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::Value;

use crate::support::garage::{self, Garage};
use crate::support::image::{self, Rootfs};
use crate::support::kubelet::{self, Namespace};
use crate::support::pod::{self, Mount};
use crate::support::postgres::Postgres;
use crate::support::{copy_tree, meltc, repo, test_home};

pub const PG_USER: &str = "meltano_ro";
pub const PASSWORD: &str = "pg-prod-pa55-canary";
/// The prod loader's bucket and the state backend's, as meltano.yml names them.
pub const DATA_BUCKET: &str = "lakehouse";
pub const STATE_BUCKET: &str = "meltano-state";
const STATE_ID: &str = "prod:tap-postgres-to-target-s3:k8s";
const POD_DEADLINE: Duration = Duration::from_secs(600);

/// The example project with the image names pointed at the local base and carrier images,
/// built for `prod`.
pub fn project(base: &str, carrier: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("examples/lakehouse"), dir.path());
    let yml = dir.path().join("meltano.yml");
    let text = fs_err::read_to_string(&yml).unwrap();
    let pinned = "      python: \"3.11\"\n";
    assert!(text.contains(pinned), "the example pins its Python");
    fs_err::write(
        &yml,
        text.replacen(
            pinned,
            &format!("{pinned}      base: {base}\n      meltc: {carrier}\n"),
            1,
        ),
    )
    .unwrap();
    let build = meltc(dir.path(), &["build", "--env", "prod"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    dir
}

/// The generated Dockerfile is the committed one but for the two image names.
fn assert_dockerfile_unchanged(built: &Path, base: &str, carrier: &str) {
    let committed = repo().join("examples/lakehouse/deploy/prod/Dockerfile");
    let committed = fs_err::read_to_string(committed).unwrap();
    let official = meltc::emit::settings::BASE_IMAGES
        .iter()
        .find(|(python, _)| *python == "3.11")
        .unwrap()
        .1;
    let expected = committed
        .replace(official, base)
        .replace(meltc::emit::settings::DEFAULT_MELTC_IMAGE, carrier);
    let actual = fs_err::read_to_string(built.join("Dockerfile")).unwrap();
    assert!(
        actual == expected,
        "{}",
        crate::support::diff(&expected, &actual)
    );
}

/// The example's tables in a `shop` database that `meltano_ro` reads.
fn seed(postgres: &Postgres) {
    postgres.sql(
        "postgres",
        &format!("CREATE ROLE {PG_USER} LOGIN PASSWORD '{PASSWORD}'"),
    );
    postgres.sql("postgres", &format!("CREATE DATABASE shop OWNER {PG_USER}"));
    postgres.sql(
        "shop",
        &format!(
            "CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL, \
               password_hash text, created_at timestamptz DEFAULT now()); \
             CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, \
               amount numeric(10, 2), updated_at timestamptz NOT NULL); \
             CREATE TABLE order_items (id serial PRIMARY KEY, order_id int REFERENCES orders, \
               sku text, qty int); \
             CREATE TABLE audit_log (id serial PRIMARY KEY, note text); \
             INSERT INTO customers (email, password_hash) \
               SELECT 'c' || g || '@example.com', 'hash-' || g FROM generate_series(1, 5) g; \
             INSERT INTO orders (customer_id, amount, updated_at) \
               SELECT 1 + g % 5, g * 1.5, timestamptz '2025-01-01' + g * interval '1 hour' \
               FROM generate_series(1, 20) g; \
             INSERT INTO order_items (order_id, sku, qty) \
               SELECT g, 'sku-' || g, 1 FROM generate_series(1, 20) g; \
             INSERT INTO audit_log (note) SELECT 'not selected' FROM generate_series(1, 3); \
             ALTER TABLE customers OWNER TO {PG_USER}; ALTER TABLE orders OWNER TO {PG_USER}; \
             ALTER TABLE order_items OWNER TO {PG_USER}; ALTER TABLE audit_log OWNER TO {PG_USER};"
        ),
    );
}

/// The pod's view of the cluster: the generated ConfigMap with the overlay's patch, and the
/// Secret with every key of `secret.example.yaml` given a value (`omit`: one left out).
pub fn namespace(
    k8s: &Path,
    postgres: &Postgres,
    garage: &Garage,
    omit: Option<&str>,
) -> Namespace {
    let mut namespace = Namespace::default();
    let mut config_map: ConfigMap = kubelet::read(&k8s.join("configmap.yaml"));
    // overlays/test/configmap-patch.yaml of a team pointing the deploy at other servers:
    // the database's host and port, and the S3 endpoint of the loader and the state backend
    // (meltc-run takes a setting's own variable over meltano.yml, as Meltano does).
    let endpoint = garage.endpoint.clone();
    let patch = [
        ("TAP_POSTGRES_HOST", "127.0.0.1".to_owned()),
        ("TAP_POSTGRES_PORT", postgres.port.to_string()),
        (
            "TARGET_S3_CLOUD_PROVIDER_AWS_AWS_ENDPOINT_OVERRIDE",
            endpoint.clone(),
        ),
        ("MELTANO_STATE_BACKEND_S3_ENDPOINT_URL", endpoint.clone()),
        ("AWS_ENDPOINT_URL_S3", endpoint),
    ];
    let data = config_map.data.get_or_insert_with(BTreeMap::new);
    for (key, value) in patch {
        data.insert(key.to_owned(), value);
    }
    namespace.add_config_map(config_map);
    let mut secret: Secret = kubelet::read(&k8s.join("secret.example.yaml"));
    let values = BTreeMap::from([
        ("PG_PASSWORD", PASSWORD.to_owned()),
        ("GARAGE_ACCESS_KEY_ID", garage.key_id.clone()),
        ("GARAGE_SECRET_ACCESS_KEY", garage.secret.clone()),
        ("MELTANO_STATE_AWS_ACCESS_KEY_ID", garage.key_id.clone()),
        ("MELTANO_STATE_AWS_SECRET_ACCESS_KEY", garage.secret.clone()),
        ("GITHUB_TOKEN", "github_pat_not_used_here".to_owned()),
    ]);
    let keys = secret
        .string_data
        .take()
        .expect("stringData in the example");
    let mut filled = BTreeMap::new();
    for key in keys.keys() {
        let value = values.get(key.as_str()).unwrap_or_else(|| {
            panic!("secret.example.yaml has a key the test gives no value: {key}")
        });
        if omit != Some(key.as_str()) {
            filled.insert(key.clone(), value.clone());
        }
    }
    secret.string_data = Some(filled);
    namespace.add_secret(secret);
    namespace
}

/// A deployed image: its root filesystem and configuration.
pub struct Deployed {
    pub rootfs: Rootfs,
    pub config: image::ImageConfig,
    pub k8s: PathBuf,
    pub dagster: PathBuf,
}

impl Deployed {
    /// Run the CronJob `name`'s pod (`command`: instead of the image's entrypoint and the
    /// CronJob's args, for Dagster) in `namespace`.
    pub fn run(
        &self,
        name: &str,
        namespace: &Namespace,
        command: Option<Vec<String>>,
        extra: &[Mount],
        extra_env: &[(&str, &str)],
    ) -> Result<pod::Exit, String> {
        let cronjob: CronJob = kubelet::read(&self.k8s.join(format!("cronjob-{name}.yaml")));
        let spec = kubelet::pod_spec(&cronjob);
        let container = spec
            .containers
            .iter()
            .find(|container| container.name == "meltc-run")
            .expect("the meltc-run container");
        let env = kubelet::container_env(container, namespace)?;
        let mut env = kubelet::process_env(&self.config, env, &format!("{name}-28930000-x7k2p"));
        env.extend(
            extra_env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        let command = command.unwrap_or_else(|| kubelet::command_line(&self.config, container));
        let working_dir = container
            .working_dir
            .clone()
            .unwrap_or_else(|| self.config.working_dir.clone());
        Ok(pod::run(
            &self.rootfs.path,
            spec,
            container,
            &pod::Launch {
                command: &command,
                env: &env,
                working_dir: &working_dir,
                extra,
                deadline: POD_DEADLINE,
            },
        ))
    }
}

/// Every Parquet object under `s3://lakehouse/raw/` (pyarrow, from the target-s3 test venv).
fn parquet_objects(garage: &Garage) -> Vec<Value> {
    let python = test_home().join("venvs/target-s3/bin/python");
    assert!(
        python.exists(),
        "pyarrow is not installed ({}): run scripts/setup-test-env --python",
        python.display()
    );
    let output = std::process::Command::new(python)
        .arg(repo().join("tests/support/parquet_objects.py"))
        .args([garage.endpoint.as_str(), DATA_BUCKET, "raw"])
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", &garage.key_id)
        .env("AWS_SECRET_ACCESS_KEY", &garage.secret)
        .env("AWS_REGION", garage::REGION)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "reading the Parquet objects failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    document["objects"].as_array().unwrap().clone()
}

/// The objects of `stream` among `objects`.
fn of_stream<'o>(objects: &'o [Value], stream: &str) -> Vec<&'o Value> {
    objects
        .iter()
        .filter(|object| {
            object["key"]
                .as_str()
                .unwrap()
                .starts_with(&format!("raw/{stream}/"))
        })
        .collect()
}

fn rows(objects: &[&Value]) -> u64 {
    objects
        .iter()
        .map(|object| object["rows"].as_u64().unwrap())
        .sum()
}

fn ids(objects: &[&Value]) -> Vec<u64> {
    let mut ids: Vec<u64> = objects
        .iter()
        .flat_map(|object| object["values"]["id"].as_array().unwrap().clone())
        .map(|id| id.as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// The columns of a stream's objects (all alike), as (name, Arrow type).
fn columns(objects: &[&Value]) -> Vec<(String, String)> {
    let first: Vec<(String, String)> =
        serde_json::from_value(objects[0]["columns"].clone()).unwrap();
    for object in objects {
        let these: Vec<(String, String)> =
            serde_json::from_value(object["columns"].clone()).unwrap();
        assert_eq!(these, first, "{}", object["key"]);
    }
    first
}

/// `raw/<stream>/year=YYYY/month=MM/day=DD/<stream><YYYYMMDD>-part-NNNNN-<uuid>.parquet`:
/// the prefix, the day partitions with their names, and the date of the run (UTC).
fn assert_layout(objects: &[Value]) {
    let day = chrono::Utc::now().date_naive();
    for object in objects {
        let key = object["key"].as_str().unwrap();
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 6, "{key}");
        assert_eq!(parts[0], "raw", "{key}");
        let stream = parts[1];
        let date_folders = [
            format!("year={}", day.format("%Y")),
            format!("month={}", day.format("%m")),
            format!("day={}", day.format("%d")),
        ];
        assert_eq!(parts[2..5], date_folders, "{key}");
        let file = parts[5];
        let prefix = format!("{stream}{}-part-", day.format("%Y%m%d"));
        assert!(
            file.starts_with(&prefix) && file.ends_with(".parquet"),
            "{key}: expected {prefix}NNNNN-<uuid>.parquet"
        );
    }
}

fn column_names(columns: &[(String, String)]) -> Vec<&str> {
    columns.iter().map(|(name, _)| name.as_str()).collect()
}

#[test]
fn example_prod_image_pod_parquet_and_dagster() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    garage.add_bucket(DATA_BUCKET);
    garage.add_bucket(STATE_BUCKET);
    let postgres = Postgres::start_with_tls();
    seed(&postgres);

    // The image: the generated Dockerfile, unchanged but for the image names, built by buildah.
    let (base, carrier) = (image::base_image(), image::carrier_image());
    let project = project(&base, &carrier);
    let folder = project.path().join("deploy/prod");
    assert_dockerfile_unchanged(&folder, &base, &carrier);
    let tag = "localhost/lakehouse-prod:test";
    let build = image::build(&folder, tag);
    assert!(
        build.output.status.success(),
        "buildah bud failed:\n{}{}",
        String::from_utf8_lossy(&build.output.stdout),
        String::from_utf8_lossy(&build.output.stderr)
    );
    let config = image::config(tag);
    eprintln!(
        "image {tag}: built in {:.1} s, {:.0} MB",
        build.took.as_secs_f64(),
        config.size as f64 / 1e6
    );
    assert_eq!(config.entrypoint, ["meltc-run"]);
    assert_eq!(config.user, "10001:10001");
    assert_eq!(config.working_dir, "/tmp");
    let deployed = Deployed {
        rootfs: Rootfs::of(tag),
        config,
        k8s: folder.join("k8s"),
        dagster: folder.join("dagster/definitions.py"),
    };

    // First run: every selected row, as Parquet in Garage.
    let complete = namespace(&deployed.k8s, &postgres, &garage, None);
    let exit = deployed
        .run("postgres-nightly", &complete, None, &[], &[])
        .expect("the kubelet starts the container");
    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    assert!(!exit.stderr.contains(PASSWORD), "{}", exit.stderr);
    eprintln!("first pod run: {:.1} s", exit.took.as_secs_f64());
    let first = parquet_objects(&garage);
    assert_layout(&first);
    let customers = of_stream(&first, "public-customers");
    let orders = of_stream(&first, "public-orders");
    let items = of_stream(&first, "public-order_items");
    assert_eq!(
        (rows(&customers), rows(&orders), rows(&items)),
        (5, 20, 20),
        "{first:#?}"
    );
    assert!(
        of_stream(&first, "public-audit_log").is_empty(),
        "not selected"
    );
    assert_eq!(ids(&orders), (1..=20).collect::<Vec<_>>());
    let customer_columns = columns(&customers);
    assert_eq!(
        column_names(&customer_columns),
        ["id", "email", "created_at"],
        "password_hash is excluded: {customer_columns:?}"
    );
    assert_eq!(
        customer_columns[1..],
        [
            ("email".to_owned(), "string".to_owned()),
            ("created_at".to_owned(), "timestamp[ms, tz=utc]".to_owned()),
        ]
    );
    assert_eq!(
        columns(&orders),
        [
            ("id".to_owned(), "int64".to_owned()),
            ("customer_id".to_owned(), "int64".to_owned()),
            // tap-postgres declares numeric(10, 2) as a plain JSON number.
            ("amount".to_owned(), "double".to_owned()),
            ("updated_at".to_owned(), "timestamp[ms, tz=utc]".to_owned()),
        ]
    );
    assert_eq!(
        columns(&items),
        [
            ("id".to_owned(), "int64".to_owned()),
            ("order_id".to_owned(), "int64".to_owned()),
            ("sku".to_owned(), "string".to_owned()),
            ("qty".to_owned(), "int64".to_owned()),
        ]
    );

    // Second run: incremental from the state in Garage (the boundary row is read again:
    // Singer's at-least-once contract), full-table streams copied again.
    postgres.sql(
        "shop",
        "INSERT INTO orders (customer_id, amount, updated_at) \
         SELECT 1, g, timestamptz '2025-02-01' + g * interval '1 minute' FROM generate_series(1, 3) g;",
    );
    let exit = deployed
        .run("postgres-nightly", &complete, None, &[], &[])
        .expect("the kubelet starts the container");
    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    let second = parquet_objects(&garage);
    let new: Vec<Value> = second
        .iter()
        .filter(|object| !first.contains(object))
        .cloned()
        .collect();
    assert_eq!(ids(&of_stream(&new, "public-orders")), [20, 21, 22, 23]);
    assert_eq!(rows(&of_stream(&new, "public-customers")), 5);
    let state = deployed
        .run(
            "postgres-nightly",
            &complete,
            Some(vec![
                "meltc-run".into(),
                "state".into(),
                "get".into(),
                STATE_ID.into(),
            ]),
            &[],
            &[],
        )
        .expect("the kubelet starts the container");
    assert_eq!(state.code, Some(0), "{}", state.stderr);
    assert!(
        state.stdout.contains("2025-02-01T00:03:00"),
        "the bookmark of the new rows: {}",
        state.stdout
    );

    // A Secret without a key: the pod starts (the reference is optional), meltc-run names the
    // variable and exits with the code the Job's podFailurePolicy makes final.
    let missing = namespace(&deployed.k8s, &postgres, &garage, Some("PG_PASSWORD"));
    let exit = deployed
        .run("postgres-nightly", &missing, None, &[], &[])
        .expect("an optional key does not stop the container");
    let cronjob: CronJob = kubelet::read(&deployed.k8s.join("cronjob-postgres-nightly.yaml"));
    let final_codes = kubelet::final_exit_codes(&cronjob, "meltc-run");
    assert!(
        exit.code.is_some_and(|code| final_codes.contains(&code)),
        "exit {:?}, podFailurePolicy fails the Job on {final_codes:?}:\n{}",
        exit.code,
        exit.stderr
    );
    assert!(exit.stderr.contains("PG_PASSWORD"), "{}", exit.stderr);
    assert_eq!(
        parquet_objects(&garage).len(),
        second.len(),
        "nothing written"
    );

    dagster(&deployed, &complete, &missing, &garage);
}

/// The generated `definitions.py` run by the image's Dagster in the pod: the job copies the
/// rows and its run carries meltc-run's log lines; a failing meltc-run fails the run with the
/// reason in its captured stderr; the schedules are the project's.
fn dagster(deployed: &Deployed, complete: &Namespace, missing: &Namespace, garage: &Garage) {
    let dagster_python = "/opt/meltano/utilities/dagster/bin/python";
    let mounts = [
        Mount {
            host: deployed.dagster.clone(),
            sandbox: "/etc/meltc/dagster/definitions.py".to_owned(),
        },
        Mount {
            host: repo().join("tests/support/dagster_in_pod.py"),
            sandbox: "/etc/meltc/dagster/dagster_in_pod.py".to_owned(),
        },
    ];
    for mount in &mounts {
        // The mount points, as a volume's are made in the container's layer.
        let target = deployed
            .rootfs
            .path
            .join(mount.sandbox.trim_start_matches('/'));
        fs_err::create_dir_all(target.parent().unwrap()).unwrap();
        fs_err::write(&target, "").unwrap();
    }
    let dagster = |namespace: &Namespace, args: &[&str]| -> Value {
        let command = [dagster_python, "/etc/meltc/dagster/dagster_in_pod.py"]
            .iter()
            .chain(std::iter::once(&"/etc/meltc/dagster/definitions.py"))
            .chain(args)
            .map(|arg| (*arg).to_owned())
            .collect();
        let exit = deployed
            .run(
                "postgres-nightly",
                namespace,
                Some(command),
                &mounts,
                &[("DAGSTER_HOME", "/tmp/dagster")],
            )
            .expect("the kubelet starts the container");
        assert_eq!(exit.code, Some(0), "{}\n{}", exit.stdout, exit.stderr);
        serde_json::from_str(&exit.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}\n{}", exit.stdout, exit.stderr))
    };
    let before = parquet_objects(garage).len();
    let run = dagster(complete, &["execute", "postgres_to_lake"]);
    assert_eq!(run["status"], "SUCCESS", "{run:#}");
    assert_eq!(run["exit"], 0, "{run:#}");
    let stderr = run["stderr"].as_str().unwrap();
    assert!(
        stderr.contains("tap-postgres"),
        "meltc-run's log lines:\n{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(
        parquet_objects(garage).len() > before,
        "the Dagster run copied rows"
    );

    let failed = dagster(missing, &["execute", "postgres_to_lake"]);
    assert_eq!(failed["status"], "FAILURE", "{failed:#}");
    assert_ne!(failed["exit"], 0, "{failed:#}");
    let events: Vec<&str> = failed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(events.contains(&"STEP_FAILURE"), "{events:?}");
    let stderr = failed["stderr"].as_str().unwrap();
    assert!(stderr.contains("PG_PASSWORD"), "the reason:\n{stderr}");

    let schedules = dagster(complete, &["schedules"]);
    let expected = serde_json::json!([
        {"name": "github_hourly", "job": "github_to_lake", "cron": "0 * * * *", "timezone": "UTC", "status": "STOPPED"},
        {"name": "lake_weekly_full", "job": "all_to_lake", "cron": "30 3 * * 0", "timezone": "UTC", "status": "STOPPED"},
        {"name": "postgres_nightly", "job": "postgres_to_lake", "cron": "0 2 * * *", "timezone": "UTC", "status": "STOPPED"},
    ]);
    assert_eq!(schedules["schedules"], expected, "{schedules:#}");
}
