//! `bench/deploy`'s measurements (not a test: ignored, run by that script, which prints and
//! records the numbers): the example's prod image (build time, size), a pod's time from start
//! to the first record, and rows per second from PostgreSQL to Parquet in Garage with
//! meltc-run in the pod, meltc-run on the host and the real `meltano run` on the host, on the
//! same tap and target venvs and the same rows, in one run.
//!
//! `MELTC_BENCH_ROWS` orders (and as many order items; default 100,000), written to
//! `MELTC_BENCH_RESULTS` as bench/results.py's JSON lines when set.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::deploy::{self, DATA_BUCKET, Deployed, PASSWORD, PG_USER, STATE_BUCKET};
use crate::support::garage::{self, Garage};
use crate::support::image::{self, Rootfs};
use crate::support::postgres::Postgres;
use crate::support::{meltano_batch, meltc, tool};

const JOB: &str = "postgres-to-lake";

fn seed(postgres: &Postgres, rows: u64) {
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
             CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, \
               amount numeric(10, 2), updated_at timestamptz NOT NULL); \
             CREATE TABLE order_items (id serial PRIMARY KEY, order_id int, sku text, qty int); \
             INSERT INTO customers (email, password_hash) \
               SELECT 'c' || g || '@example.com', 'hash-' || g FROM generate_series(1, 1000) g; \
             INSERT INTO orders (customer_id, amount, updated_at) \
               SELECT 1 + g % 1000, g * 0.5, timestamptz '2025-01-01' + g * interval '1 second' \
               FROM generate_series(1, {rows}) g; \
             INSERT INTO order_items (order_id, sku, qty) \
               SELECT g, 'sku-' || g, 1 + g % 3 FROM generate_series(1, {rows}) g; \
             ALTER TABLE customers OWNER TO {PG_USER}; ALTER TABLE orders OWNER TO {PG_USER}; \
             ALTER TABLE order_items OWNER TO {PG_USER};"
        ),
    );
}

/// One results line (bench/results.py's fields), printed and appended to the results file.
fn record(case: &str, tool: &str, took: Duration, extra: &[(&str, serde_json::Value)]) {
    let mut line = serde_json::json!({
        "bench": "deploy", "case": case, "tool": tool, "runs": 1,
        "median_s": took.as_secs_f64(), "min_s": took.as_secs_f64(), "max_s": took.as_secs_f64(),
        "stddev_s": 0.0,
    });
    for (key, value) in extra {
        line[*key] = value.clone();
    }
    eprintln!("bench deploy: {line}");
    if let Ok(path) = std::env::var("MELTC_BENCH_RESULTS") {
        use std::io::Write as _;
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(file, "{line}").unwrap();
    }
}

/// The environment of a host run of the `prod` job: the pod's variables (ConfigMap, overlay
/// patch and Secret), without the image's.
fn host_env(
    deployed: &Deployed,
    namespace: &crate::support::kubelet::Namespace,
    work: &Path,
) -> BTreeMap<String, String> {
    let cronjob: k8s_openapi::api::batch::v1::CronJob =
        crate::support::kubelet::read(&deployed.k8s.join("cronjob-postgres-nightly.yaml"));
    let container = &crate::support::kubelet::pod_spec(&cronjob).containers[0];
    let mut env: BTreeMap<String, String> =
        crate::support::kubelet::container_env(container, namespace)
            .unwrap()
            .into_iter()
            .collect();
    env.extend(
        [
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
            ("HOME", work.join("home").display().to_string()),
            ("TMPDIR", work.join("tmp").display().to_string()),
            ("LANG", "C.UTF-8".to_owned()),
            ("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false".to_owned()),
            // Meltano's state backend reads no project `env:`; boto3 signs for this region.
            ("AWS_DEFAULT_REGION", garage::REGION.to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value)),
    );
    env
}

/// The venv of a test tool (`bin/<name>` links into it).
fn venv(name: &str) -> std::path::PathBuf {
    fs_err::canonicalize(tool(name))
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
#[ignore = "a benchmark: bench/deploy runs it"]
fn bench_deploy() {
    let rows: u64 = std::env::var("MELTC_BENCH_ROWS")
        .ok()
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(100_000);
    let total = 1000 + 2 * rows;
    let mut garage = Garage::start().expect("garage");
    garage.add_bucket(DATA_BUCKET);
    garage.add_bucket(STATE_BUCKET);
    let postgres = Postgres::start_with_tls();
    seed(&postgres, rows);

    let (base, carrier) = (image::base_image(), image::carrier_image());
    let project = deploy::project(&base, &carrier);
    let folder = project.path().join("deploy/prod");
    let tag = "localhost/lakehouse-prod:bench";
    if std::env::var_os("MELTC_BENCH_COLD").is_some() {
        let _ = image::buildah().args(["rmi", "--force", tag]).output();
        let cold = image::build_with(&folder, tag, &["--no-cache"]);
        assert!(
            cold.output.status.success(),
            "{}",
            String::from_utf8_lossy(&cold.output.stderr)
        );
        record(
            "image build, no layer cache (uv cache warm)",
            "buildah",
            cold.took,
            &[("size_bytes", image::config(tag).size.into())],
        );
    }
    let warm = image::build(&folder, tag);
    assert!(warm.output.status.success());
    let config = image::config(tag);
    record(
        "image build, layers cached",
        "buildah",
        warm.took,
        &[("size_bytes", config.size.into())],
    );

    let deployed = Deployed {
        rootfs: Rootfs::of(tag),
        config,
        k8s: folder.join("k8s"),
        dagster: folder.join("dagster/definitions.py"),
    };
    let namespace = deploy::namespace(&deployed.k8s, &postgres, &garage, None);

    // Pod start to the first record: the tap run by meltc-run in the pod (configuration,
    // catalog discovery and selection, then the sync), its stdout watched.
    let invoke = deployed
        .run(
            "postgres-nightly",
            &namespace,
            Some(vec![
                "meltc-run".into(),
                "invoke".into(),
                "tap-postgres".into(),
            ]),
            &[],
            &[],
        )
        .unwrap();
    assert_eq!(invoke.code, Some(0), "{}", invoke.stderr);
    let first = invoke.first_record.unwrap_or_else(|| {
        panic!(
            "no RECORD line on the tap's stdout; its start:\n{}\nstderr's end:\n{}",
            invoke.stdout.chars().take(2000).collect::<String>(),
            invoke
                .stderr
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    record(
        "pod start to first record (meltc-run invoke tap-postgres)",
        "meltc-run",
        first,
        &[],
    );

    // Rows per second, each a full sync of the same rows: the three ways in turn, for
    // MELTC_BENCH_ROUNDS rounds (default 3), so that a change of load hits all three alike;
    // medians, and the CPU time of each run's process tree, which load changes far less.
    let rounds: usize = std::env::var("MELTC_BENCH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(3);
    // The host: the example built for prod, the test tools' tap-postgres and target-s3.
    let work = tempfile::tempdir().unwrap();
    for folder in ["home", "tmp"] {
        fs_err::create_dir_all(work.path().join(folder)).unwrap();
    }
    let root = project.path();
    let lock = meltc(root, &["lock"]);
    assert_eq!(lock.code, 0, "{}", lock.stderr);
    for (kind, name) in [("extractors", "tap-postgres"), ("loaders", "target-s3")] {
        let venv = venv(name);
        let plugins = work.path().join("plugins").join(kind);
        fs_err::create_dir_all(&plugins).unwrap();
        std::os::unix::fs::symlink(&venv, plugins.join(name)).unwrap();
        let bin = root.join(".meltano").join(kind).join(name).join("venv/bin");
        fs_err::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(venv.join("bin").join(name), bin.join(name)).unwrap();
    }
    let env = host_env(&deployed, &namespace, work.path());
    let mut meltano_env = env.clone();
    meltano_env.insert("MELTANO_ENVIRONMENT".to_owned(), "prod".to_owned());
    let tools = [
        "meltc-run in the pod",
        "meltc-run on the host",
        "meltano run on the host",
    ];
    let mut runs: Vec<Vec<(Duration, f64)>> = vec![Vec::new(); tools.len()];
    for _ in 0..rounds {
        let cpu = children_cpu_s();
        let pod = deployed
            .run(
                "postgres-nightly",
                &namespace,
                Some(vec![
                    "meltc-run".into(),
                    "job".into(),
                    JOB.into(),
                    "--full-refresh".into(),
                ]),
                &[],
                &[],
            )
            .unwrap();
        assert_eq!(pod.code, Some(0), "{}", pod.stderr);
        runs[0].push((pod.took, children_cpu_s() - cpu));

        let cpu = children_cpu_s();
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_meltc-run"))
            .args(["job", JOB, "--full-refresh"])
            .current_dir(root)
            .env_clear()
            .envs(&env)
            .env("MELTC_MANIFEST", folder.join("manifest.json"))
            .env("MELTC_PLUGINS_DIR", work.path().join("plugins"))
            .output()
            .unwrap();
        let took = started.elapsed();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        runs[1].push((took, children_cpu_s() - cpu));

        let cpu = children_cpu_s();
        let started = Instant::now();
        let ran = meltano_batch(
            root,
            &meltano_env,
            &[["run", "--no-install", "--full-refresh", JOB]
                .map(str::to_owned)
                .to_vec()],
        );
        let took = started.elapsed();
        assert_eq!(ran[0].code, 0, "{}", ran[0].stderr);
        runs[2].push((took, children_cpu_s() - cpu));
    }
    for (tool, runs) in tools.iter().zip(&mut runs) {
        runs.sort_by_key(|run| run.0);
        let median = runs[runs.len() / 2];
        let mut cpus: Vec<f64> = runs.iter().map(|run| run.1).collect();
        cpus.sort_by(f64::total_cmp);
        let mut extra = vec![
            ("runs", runs.len().into()),
            ("min_s", runs[0].0.as_secs_f64().into()),
            ("max_s", runs[runs.len() - 1].0.as_secs_f64().into()),
            (
                "rows_per_s",
                serde_json::json!((total as f64 / median.0.as_secs_f64()).round()),
            ),
        ];
        // The pod's CPU time does not reach the test's children's time (measured 0 s: the
        // sandbox's processes are reaped inside bubblewrap's PID namespace, not waited for
        // by the test): none is recorded rather than a false zero.
        let cpu = cpus[cpus.len() / 2];
        if cpu > 0.0 {
            extra.push(("cpu_s", cpu.into()));
        }
        record(
            &format!("{total} rows PostgreSQL to Parquet in Garage"),
            tool,
            median.0,
            &extra,
        );
    }
}

/// The CPU time (user + system, seconds) of this process's waited-for children and their
/// descendants so far (`/proc/self/stat` `cutime` + `cstime`, in clock ticks).
fn children_cpu_s() -> f64 {
    let stat = fs_err::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command's closing parenthesis start at field 3 (`state`).
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    let output = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}
