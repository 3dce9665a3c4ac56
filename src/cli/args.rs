//! Command-line arguments (clap derive). Nothing outside `cli` sees these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::diagnostics::render::Format;
use crate::meltano::PluginType;

/// meltc compiles a Meltano project (meltano.yml) into deterministic deploy artifacts.
#[derive(Debug, Parser)]
#[command(name = "meltc", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The project root (default: `MELTANO_PROJECT_ROOT`, else the nearest folder upward that
    /// holds a meltano.yml).
    #[arg(short = 'C', long = "project-root", global = true, value_name = "DIR")]
    pub project_root: Option<PathBuf>,

    /// When to colour output (`NO_COLOR` is honoured in `auto`).
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Colour choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// Colour when writing to a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check meltano.yml, its included files and every environment.
    ///
    /// Example: `meltc validate --format github` in CI, or as the `meltc-validate` pre-commit
    /// hook. Exits 0 when clean (warnings allowed), 1 on findings, 2 on usage or I/O errors.
    Validate(ValidateArgs),

    /// Compile environments into their deploy artifacts (manifest.json, ...).
    ///
    /// Example: `meltc build --env prod` writes `deploy/prod/`; in CI,
    /// `meltc build --all-envs --check` prints a diff and exits 1 when the committed files
    /// drifted from meltano.yml. Writes are atomic per environment folder; files meltc did not
    /// generate are never touched. Exits 0 when built (or no drift), 1 on errors or drift, 2 on
    /// usage or I/O errors.
    Build(BuildArgs),

    /// Show what differs between two environments, as resolved values (secrets stay
    /// `${VAR}` references): the review before promoting one to the other.
    ///
    /// Example: `meltc diff staging prod`. Exits 0 when they are the same, 1 when they differ.
    Diff(DiffArgs),

    /// Show what a deploy of one environment would change, compared with what is deployed:
    /// jobs, schedules, plugins and settings, images, Secret keys, ConfigMap values, and the
    /// state IDs a deploy starts fresh (a full resync) or orphans.
    ///
    /// `--against` is a manifest file, a build output folder (`deploy/prod/`) or a git
    /// revision of it (`origin/main`, or `REV:PATH`). Nothing is written and no state backend
    /// is read unless `--read-state` asks for it.
    ///
    /// Example: `meltc plan --env prod --against origin/main --format markdown` in a
    /// pull request. Exits 0 when there is nothing to deploy, 1 when there are changes, 2 on
    /// errors.
    Plan(PlanArgs),

    /// Pin each extractor's catalog: run its discovery once, as meltc-run would in the
    /// environment (its variables from this process, its config file, the same program), and
    /// store the catalog in `catalogs/<extractor>.json` (`catalogs/<extractor>.<env>.json`
    /// where an environment's discovery differs). `meltc build` reads them: the manifest lists
    /// the selected streams, the image carries the catalogs and a pod runs no discovery.
    ///
    /// Example: `meltc catalog --env prod`, then `meltc catalog --env prod --check` in CI.
    /// Exits 0 when every catalog is written (or, with `--check`, unchanged), 1 when `--check`
    /// finds a changed stream or column, 2 on errors.
    Catalog(CatalogArgs),

    /// Write plugin lock files (`plugins/<type>/<name>--<variant>.lock`) from the bundled hub
    /// index, byte for byte as `meltano lock` writes them.
    ///
    /// Example: `meltc lock` after adding a plugin, `meltc lock --update tap-gitlab` to refresh
    /// one. Exits 0 when every selected plugin is locked, up to date, kept or skipped (warnings
    /// allowed), 1 when a name or a plugin cannot be locked, 2 on usage or I/O errors.
    Lock(LockArgs),

    /// Draw the project as a graph: schedules → jobs → tasks → plugins, with mappings and
    /// `inherit_from` parents.
    ///
    /// Mermaid (the default) renders in GitHub and GitLab Markdown; DOT renders with Graphviz.
    /// The project is validated first (the same diagnostics and exit codes as `meltc
    /// validate`). Without `--env` the graph is the project's without an environment, which has
    /// the same schedules, jobs and plugins as every environment.
    ///
    /// Example: `meltc graph > graph.mmd`, or `meltc graph --env prod --format dot | dot -Tsvg
    /// > graph.svg`.
    Graph(GraphArgs),

    /// Set up CI for the project: a GitHub Actions workflow (`.github/workflows/meltc.yml`), a
    /// shell script for any other CI (`ci/meltc-check.sh`) and the `meltc-validate` pre-commit
    /// hook (`.pre-commit-config.yaml`).
    ///
    /// Each runs `meltc validate` and `meltc build --all-envs --check`. Files are written into
    /// `--dir` (the repository root; default: the working directory), atomically; one that
    /// exists with other content is replaced only with `--force`. An existing
    /// `.pre-commit-config.yaml` is never replaced: the hook is appended when that is safe,
    /// else printed for you to add.
    ///
    /// Example: `meltc init-ci` in the repository root, or `meltc -C meltano init-ci --dir .`
    /// for a project in a subfolder.
    InitCi(InitCiArgs),

    /// Print a shell completion script.
    ///
    /// Example: `meltc completions bash > /etc/bash_completion.d/meltc`, or
    /// `meltc completions zsh > "${fpath[1]}/_meltc"`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff).
    ///
    /// Example: `meltc man > /usr/local/share/man/man1/meltc.1`.
    Man,

    /// Explain a diagnostic code: what it means, why it matters, a bad and a fixed example.
    ///
    /// Example: `meltc explain ref::unknown-plugin` (the `meltc::` prefix is optional), or
    /// `meltc explain --list` for every code with its severity and summary.
    Explain(ExplainArgs),
    /// Show a plugin's effective configuration and where each value comes from.
    ///
    /// What Meltano would hand the plugin at run time in this shell (process environment and
    /// the project's `.env`). The environment is `--env`, else `MELTANO_ENVIRONMENT`; like
    /// `meltano config`, `default_environment` is not used. Secrets are redacted unless
    /// `--show-secrets`.
    ///
    /// Example: `meltc config tap-postgres --env prod`, or `--format env` for the variables
    /// Meltano would set.
    Config(ConfigArgs),

    /// Developer tools of the meltc repository itself.
    #[command(hide = true, subcommand)]
    Dev(DevCommand),
}

/// `meltc dev ...`: tools for meltc's own maintainers.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Rebuild the bundled hub index (data/hub/) from a Meltano Hub data snapshot.
    ImportHub {
        /// The hub snapshot (holding `_data/`).
        #[arg(long, default_value = "../shared/reference/hub")]
        hub: PathBuf,
        /// Where to write the index.
        #[arg(long, default_value = "data/hub")]
        out: PathBuf,
    },

    /// Write the JSON Schema of `meltc plan --format json` (schemas/plan.schema.json),
    /// generated from its types.
    PlanSchema {
        /// Where to write it.
        #[arg(long, default_value = "schemas/plan.schema.json")]
        out: PathBuf,
    },

    /// Write the manifest's JSON Schema (schemas/manifest.schema.json), generated from its types.
    ManifestSchema {
        /// Where to write it.
        #[arg(long, default_value = "schemas/manifest.schema.json")]
        out: PathBuf,
    },

    /// Write the JSON Schema of meltc-run's run-results file (schemas/run-results.schema.json),
    /// generated from its types.
    RunResultsSchema {
        /// Where to write it.
        #[arg(long, default_value = "schemas/run-results.schema.json")]
        out: PathBuf,
    },

    /// Time the resolve stage alone on a project (bench/resolve runs it).
    BenchResolve {
        /// How many times to resolve.
        #[arg(long, default_value_t = 50)]
        runs: u32,
    },
}

/// `meltc validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Validate only this environment (default: the base project and every environment).
    #[arg(long = "env", short = 'e', value_name = "NAME")]
    pub environment: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// `meltc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The environment to build.
    #[arg(
        long = "env",
        short = 'e',
        value_name = "NAME",
        conflicts_with = "all_envs"
    )]
    pub environment: Option<String>,

    /// Build every environment (a project without environments is built once, without one).
    #[arg(long)]
    pub all_envs: bool,

    /// The output folder; each environment gets a subfolder (default: `deploy/` in the
    /// project root).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Write nothing: print what would change as a unified diff and exit 1 on drift.
    #[arg(long)]
    pub check: bool,

    /// Build even when a scheduled incremental job keeps its state where a pod loses it
    /// (every run is then a full sync).
    #[arg(long)]
    pub allow_ephemeral_state: bool,

    /// Report format: `human`, or `json` (what was written, or what drifted) on stdout.
    #[arg(long, value_enum, default_value_t = BuildFormat::Human)]
    pub format: BuildFormat,

    /// Which artifacts to generate, comma-separated: `docker` (Dockerfile, its
    /// .dockerignore, install-plugins.sh), `k8s` (kustomize base), `dagster`
    /// (definitions.py). Default: all. manifest.json is always written.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_emitter)]
    pub emit: Vec<String>,

    /// Who owns the schedules, overriding `annotations.meltc.orchestrator`: `k8s` (CronJobs
    /// run them; Dagster schedules are written stopped) or `dagster` (the reverse).
    #[arg(long, value_name = "OWNER", value_parser = ["k8s", "dagster"])]
    pub orchestrator: Option<String>,
}

/// An emitter name as `--emit` takes it.
fn parse_emitter(text: &str) -> Result<String, String> {
    let names = crate::emit::emitter_names();
    if names.contains(&text) {
        Ok(text.to_owned())
    } else {
        Err(format!("not an emitter; one of {}", names.join(", ")))
    }
}

/// `meltc build --format` and `meltc diff --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BuildFormat {
    /// Diffs and a summary for people.
    Human,
    /// One JSON document for tools.
    Json,
}

/// `meltc diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The environment to compare from (e.g. `staging`).
    #[arg(value_name = "ENV_A")]
    pub from: String,

    /// The environment to compare to (e.g. `prod`).
    #[arg(value_name = "ENV_B")]
    pub to: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = BuildFormat::Human)]
    pub format: BuildFormat,
}

/// `meltc catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// The environment to discover in (needed when the project has environments).
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,

    /// Only these extractors (default: every extractor of the environment that has the
    /// `catalog` or `properties` capability).
    #[arg(value_name = "EXTRACTOR")]
    pub extractors: Vec<String>,

    /// Discover and compare with the pinned catalogs instead of writing: list the streams and
    /// columns that changed upstream and exit 1 when any did.
    #[arg(long)]
    pub check: bool,

    /// Where the plugins' virtualenvs are (`<dir>/<type>/<name>/bin/`), as for meltc-run;
    /// otherwise executables are looked up on PATH.
    #[arg(long, env = "MELTC_PLUGINS_DIR", value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
}

/// `meltc plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The environment to plan (needed when the project has environments).
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,

    /// What is deployed: a manifest file, a build output folder, or a git revision of the
    /// build output folder (`REV` for this environment's `deploy/<env>/`, `REV:PATH` for
    /// another path).
    #[arg(long, value_name = "WHAT")]
    pub against: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// Read which state IDs hold state from the state backend, as meltc-run does (its
    /// `MELTANO_STATE_BACKEND_*` variables from this process), instead of assuming that every
    /// deployed incremental state ID has bookmarks.
    #[arg(long)]
    pub read_state: bool,

    /// The artifacts compared, as `meltc build --emit` (default: all).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_emitter)]
    pub emit: Vec<String>,

    /// Who owns the schedules, as `meltc build --orchestrator`.
    #[arg(long, value_name = "OWNER", value_parser = ["k8s", "dagster"])]
    pub orchestrator: Option<String>,
}

/// `meltc plan --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// Lists and a summary for people.
    Human,
    /// One JSON document (`schemas/plan.schema.json`), for policy checks.
    Json,
    /// A pull-request comment.
    Markdown,
}

/// `meltc lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Lock every plugin of the project (the default when no names are given).
    #[arg(long, conflicts_with = "plugins")]
    pub all: bool,

    /// Rewrite lock files that exist when the hub index has another definition (with
    /// `--requirements`: compile every requirements lock again).
    #[arg(long, short = 'u')]
    pub update: bool,

    /// Write hashed Python requirements locks instead (`meltc/locks/<type>/<venv>.txt`, with
    /// `uv pip compile --generate-hashes` for the image's Python and platform), which the
    /// generated Dockerfile installs with `--require-hashes`. Needs uv and the package index.
    #[arg(long)]
    pub requirements: bool,

    /// Only plugins of this type (`extractors` or `extractor`, `loaders`, `mappers`, ...).
    #[arg(long, value_name = "TYPE", value_parser = parse_plugin_type)]
    pub plugin_type: Option<PluginType>,

    /// The plugins to lock, by name (default: all).
    #[arg(value_name = "PLUGIN")]
    pub plugins: Vec<String>,
}

/// A plugin type as Meltano's `--plugin-type` takes it: plural or singular.
fn parse_plugin_type(text: &str) -> Result<PluginType, String> {
    PluginType::ALL
        .into_iter()
        .find(|kind| text == kind.as_str() || text == kind.singular())
        .ok_or_else(|| {
            let names: Vec<_> = PluginType::ALL.iter().map(|kind| kind.as_str()).collect();
            format!("not a plugin type; one of {}", names.join(", "))
        })
}

/// `meltc graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The environment to draw (default: the project without one).
    #[arg(long = "env", short = 'e', value_name = "NAME")]
    pub environment: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

/// `meltc graph --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart (for Markdown).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

/// `meltc init-ci`.
#[derive(Debug, Args)]
pub struct InitCiArgs {
    /// Where to write (the repository root, which must hold the project; default: the working
    /// directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Replace the workflow and the script when they exist with other content.
    #[arg(long)]
    pub force: bool,
}

/// `meltc explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The code, as reports show it (`meltc::ref::unknown-plugin`) or without `meltc::`.
    #[arg(
        value_name = "CODE",
        required_unless_present = "list",
        conflicts_with = "list"
    )]
    pub code: Option<String>,

    /// List every code with its severity and summary.
    #[arg(long)]
    pub list: bool,
}

/// `meltc config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The plugin's name.
    #[arg(value_name = "PLUGIN")]
    pub plugin: String,

    /// The plugin's type, when several types have a plugin of that name (`extractor`,
    /// `loaders`...).
    #[arg(long = "type", value_name = "TYPE")]
    pub plugin_type: Option<String>,

    /// The environment (default: `MELTANO_ENVIRONMENT`, else none).
    #[arg(long = "env", short = 'e', value_name = "NAME")]
    pub environment: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ConfigFormat::Table)]
    pub format: ConfigFormat,

    /// Print secret values (settings that are `sensitive`, or of kind `password` or `oauth`).
    #[arg(long)]
    pub show_secrets: bool,
}

/// `meltc config --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfigFormat {
    /// Aligned columns for people: setting, value, source.
    Table,
    /// One JSON document for tools (README "`meltc config --format json`").
    Json,
    /// `NAME=value` lines: the environment variables Meltano writes for the plugin.
    Env,
}
