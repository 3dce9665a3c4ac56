//! Running a manifest's steps: what `meltc-run job NAME` and `meltc-run run BLOCK...` do in
//! place of `meltano run` (Meltano's `cli/run.py` and `core/block/`).
//!
//! An extract/load step: prepare each plugin's variables and config (a later block sees the
//! earlier blocks' variables, as in Meltano), write the config files into a private directory,
//! discover the catalog and apply the selection rules, hand the tap the stored state, run the
//! pipe, and store every state line the target writes as it arrives. While a step keeps state
//! it holds its state ID's run lease, so a second run of it exits (or waits) instead of
//! running the pipe too. A command step runs the plugin alone. Steps run in series; the first
//! failure stops the run. Each step fills in its [`StepResult`] as it goes (exit codes,
//! records per stream, state before and after), on failure too.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::catalog::{self, Rules};
use super::catalog_cache::CatalogCache;
use super::config_file::{FileKind, RunDir};
use super::interrupt::Interrupts;
use super::log::{Level, Logger};
use super::pinned_catalog;
use super::pipe::{self, PluginKind};
use super::prepare::{Host, Prepared, mapping_config, prepare, project_variables};
use super::required;
use super::run_results::StepResult;
use super::state::lease::{Holder, RunLease};
use super::state::recorder::{Recording, Written, record_in_background};
use super::state::uri::UriError;
use super::state::{
    StateBackendSettings, StateError, StateId, StateStore, StateStrategy, TargetLine,
};
use crate::manifest::{Found, Manifest, Mapping, MappingRef, Plugin, Step};
use crate::meltano::template::Template;
use crate::meltano::{PluginType, state_id};

/// How to run (`meltano run`'s options).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Ignore stored state; store the new state by merging (Meltano's `auto` strategy).
    pub full_refresh: bool,
    /// `--state-id-suffix`.
    pub state_id_suffix: Option<String>,
    /// Neither read nor write state.
    pub no_state_update: bool,
    /// Print the steps instead of running them.
    pub dry_run: bool,
    /// `--state-strategy`.
    pub strategy: StateStrategy,
    /// `--timeout`: when to stop.
    pub deadline: Option<Instant>,
    /// `--refresh-catalog`: discover even when a cached catalog matches.
    pub refresh_catalog: bool,
    /// `--lease-wait`: how long to wait for another run of a state ID to finish.
    pub lease_wait: Duration,
    /// What runs (`job sync`), written into the run lease so a refused run can say who holds
    /// it.
    pub command: String,
    /// The job, when the build marked it [`crate::manifest::Job::ephemeral_state`]: its
    /// incremental steps run as full syncs that keep no state.
    pub ephemeral_job: Option<String>,
}

/// Where and with what a run happens.
pub struct Runtime<'a> {
    /// The manifest.
    pub manifest: &'a Manifest,
    /// The process environment, without the literal secrets' keys.
    pub process: BTreeMap<String, String>,
    /// The literal secrets of meltano.yml, by Secret key ([`super::prepare::split_literals`]).
    pub literals: BTreeMap<String, String>,
    /// `MELTANO_PROJECT_ROOT` (relative `executable`s and `catalog:` paths are under it).
    pub project_root: PathBuf,
    /// Where the virtualenvs are (`<dir>/<type>/<venv>/bin/<executable>`).
    pub plugins_dir: Option<PathBuf>,
    /// The pinned catalogs' folder ([`pinned_catalog`]; `MELTC_CATALOGS`, the image's
    /// `/etc/meltc/catalogs`); `None`: `<project_root>/catalogs`.
    pub catalogs_dir: Option<PathBuf>,
    /// The log.
    pub logger: &'a Logger,
    /// Signals received.
    pub interrupts: &'a Interrupts,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A step's plugin is not in the manifest (a bad `run` argument).
    #[error("{0}")]
    Blocks(String),
    /// A command-line option that cannot work (exit 2 before anything runs).
    #[error("{0}")]
    Usage(String),
    /// A plugin's configuration cannot be worked out.
    #[error("{plugin}: {problems}")]
    Config {
        /// The plugin.
        plugin: String,
        /// What is wrong.
        problems: String,
    },
    /// A required variable is not set.
    #[error("{0}")]
    Variable(String),
    /// State could not be read or written.
    #[error("state: {0}")]
    State(String),
    /// Another run holds a state ID's run lease.
    #[error("{0}")]
    LeaseHeld(String),
    /// The catalog could not be discovered or selected.
    #[error("{plugin}: catalog: {message}")]
    Catalog {
        /// The extractor.
        plugin: String,
        /// What went wrong.
        message: String,
    },
    /// A file of the private run directory could not be written.
    #[error("run directory: {0}")]
    Io(#[from] std::io::Error),
    /// The pipe could not start.
    #[error("{0}")]
    Pipe(String),
    /// A step failed (the message says which plugin and how).
    #[error("{0}")]
    Failed(String),
}

impl Runtime<'_> {
    fn host(&self) -> Host<'_> {
        Host {
            process: &self.process,
            literals: &self.literals,
            project_root: self.project_root.to_str().unwrap_or("."),
            user_agent: crate::meltano::env_layers::USER_AGENT,
        }
    }

    /// Run `steps` in series, each filling in its entry of `results` (one per step, in
    /// order: [`StepResult::not_run`] to start with).
    ///
    /// # Errors
    /// The first step that fails.
    pub fn run_steps(
        &self,
        steps: &[Step],
        options: &RunOptions,
        results: &mut [StepResult],
    ) -> Result<(), RunError> {
        for (step, result) in steps.iter().zip(results) {
            if options.dry_run {
                self.logger
                    .event(Level::Info, "dry_run", &describe(step), &[]);
                continue;
            }
            let started = Instant::now();
            let ran = match step {
                Step::ExtractLoad {
                    extractor,
                    mappings,
                    loader,
                    state_id,
                    ..
                } => self.extract_load(
                    extractor,
                    mappings,
                    loader,
                    state_id.as_deref(),
                    options,
                    result,
                ),
                Step::Command { plugin, command } => self
                    .command_status(plugin, command.as_deref(), &[])
                    .and_then(|(executable, status)| {
                        result.command_exit(plugin, pipe::Exit::of(status));
                        command_succeeded(plugin, &executable, status)
                    }),
            };
            result.finish(
                started.elapsed(),
                ran.as_ref().err().map(ToString::to_string),
            );
            ran?;
        }
        Ok(())
    }

    fn plugin(&self, plugin_type: &str, name: &str) -> Result<&Plugin, RunError> {
        self.manifest
            .plugin_of_type(plugin_type, name)
            .ok_or_else(|| RunError::Blocks(format!("the manifest has no {plugin_type} `{name}`")))
    }

    /// The plugin Meltano runs for `mapping` of `mapper` (`resolve::mapping`), and the mapping.
    fn mapping_plugin<'m>(
        &self,
        mapper: &'m Plugin,
        mapping: &str,
    ) -> Result<(Plugin, &'m Mapping), RunError> {
        let entry = mapper
            .mappings
            .iter()
            .find(|entry| entry.name == mapping)
            .ok_or_else(|| {
                RunError::Blocks(format!(
                    "the mapper `{}` has no mapping `{mapping}`",
                    mapper.name
                ))
            })?;
        Ok((mapper.mapping_plugin(entry), entry))
    }

    fn prepare(
        &self,
        plugin: &Plugin,
        process: &BTreeMap<String, String>,
    ) -> Result<Prepared, RunError> {
        let host = Host {
            process,
            ..self.host()
        };
        let prepared =
            prepare(self.manifest, plugin, &host).map_err(|problems| RunError::Config {
                plugin: plugin.name.clone(),
                problems: problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        let mut missing = required::plugin_secrets(self.manifest, &prepared);
        missing.extend(required::literal_secrets(
            self.manifest,
            plugin,
            &self.literals,
        ));
        if missing.is_empty() {
            Ok(prepared)
        } else {
            Err(RunError::Variable(required::describe(
                &plugin.name,
                &missing,
            )))
        }
    }

    /// The program of `plugin` (or of a command's own `executable`).
    fn program(&self, plugin: &Plugin, executable: &str) -> PathBuf {
        if let (Some(dir), Some(venv)) = (&self.plugins_dir, &plugin.venv) {
            let candidate = dir.join(venv).join("bin").join(executable);
            if candidate.exists() {
                return candidate;
            }
        }
        if executable.contains('/') {
            self.project_root.join(executable)
        } else {
            PathBuf::from(executable)
        }
    }

    fn extract_load(
        &self,
        extractor: &str,
        mappings: &[MappingRef],
        loader: &str,
        state_id: Option<&str>,
        options: &RunOptions,
        result: &mut StepResult,
    ) -> Result<(), RunError> {
        let tap = self.plugin("extractors", extractor)?;
        let target = self.plugin("loaders", loader)?;
        let dir = RunDir::create()?;
        let tap_prepared = self.prepare(tap, &self.process)?;
        let mut tap_args: Vec<OsString> = Vec::new();
        let config = dir.write_json(
            &tap.name,
            FileKind::Config,
            &Value::Object(tap_prepared.config.clone()),
        )?;
        tap_args.extend(["--config".into(), config.into_os_string()]);
        // The backend first: a wrong endpoint or a missing key fails before discovery runs,
        // and the lease before anything runs.
        let store = self.state_store(tap, state_id, &tap_prepared, options)?;
        let lease = store
            .as_ref()
            .map(|(store, id)| self.take_lease(store, id, &options.command))
            .transpose()?;
        if let Some(flag) = catalog::catalog_flag(&tap.capabilities) {
            let refresh = options.refresh_catalog || options.full_refresh;
            let catalog = self.catalog(tap, &tap_prepared, &dir, refresh)?;
            tap_args.extend([flag.into(), catalog.into_os_string()]);
        }
        let mut started_from = Value::Object(serde_json::Map::new());
        if let Some((store, id)) = &store {
            if !options.full_refresh {
                let stored = store.get(id).map_err(|e| RunError::State(e.to_string()))?;
                if let Some(text) = super::state::document::tap_state_file(&stored) {
                    let path = dir.write(&tap.name, FileKind::State, text.as_bytes())?;
                    tap_args.extend(["--state".into(), path.into_os_string()]);
                }
                started_from = stored;
            }
            if let Some(data) = result.extract_load_mut() {
                data.state_id = Some(id.as_str().to_owned());
                data.state_before = Some(started_from.clone());
            }
        }
        let mut processes =
            vec![self.process_of(tap, &tap_prepared, PluginKind::Extractor, tap_args)];
        // Each block sees the variables of the blocks before it (Meltano's
        // `ELBContextBuilder.make_block`, `core/block/extract_load.py`).
        let mut seen = tap_prepared
            .env
            .clone()
            .into_iter()
            .collect::<BTreeMap<_, _>>();
        for mapping in mappings {
            let mapper = self.plugin("mappers", &mapping.mapper)?;
            let (plugin, entry) = self.mapping_plugin(mapper, &mapping.mapping)?;
            let prepared = self.prepare(&plugin, &seen)?;
            // The mapping's own keys see the process, not the earlier blocks' variables.
            let config = mapping_config(self.manifest, entry, &prepared, &self.host());
            let path =
                dir.write_json(&mapping.mapping, FileKind::Config, &Value::Object(config))?;
            let mut process = self.process_of(
                &plugin,
                &prepared,
                PluginKind::Mapper,
                vec!["--config".into(), path.into_os_string()],
            );
            process.name.clone_from(&mapping.mapping);
            processes.push(process);
            seen.extend(prepared.env);
        }
        let target_prepared = self.prepare(target, &seen)?;
        let config = dir.write_json(
            &target.name,
            FileKind::Config,
            &Value::Object(target_prepared.config.clone()),
        )?;
        processes.push(self.process_of(
            target,
            &target_prepared,
            PluginKind::Loader,
            vec!["--config".into(), config.into_os_string()],
        ));

        let recording = Recording {
            merge: options.strategy.merges(options.full_refresh),
            full_refresh: options.full_refresh,
        };
        let pipe_options = pipe::Options {
            deadline: options.deadline,
            ..pipe::Options::default()
        };
        let run_pipe = |on_state: &mut dyn FnMut(&str) -> Result<(), pipe::StateError>| {
            pipe::run(
                &processes,
                &pipe_options,
                self.logger,
                self.interrupts,
                on_state,
            )
        };
        // States are stored by a storing thread, so a slow backend never holds up the target
        // (`recorder::record_in_background`).
        let (report, stored, written) = match &store {
            Some((store, id)) => {
                let ((report, stored), written) = record_in_background(
                    store,
                    id.clone(),
                    recording,
                    started_from,
                    lease.as_ref(),
                    |recorder| {
                        let report = run_pipe(&mut |line| {
                            self.log_recorded(&recorder.record(line)?);
                            Ok(())
                        });
                        (report, recorder.stored())
                    },
                );
                (report, stored, written)
            }
            None => (run_pipe(&mut |_| Ok(())), 0, Ok(Written::default())),
        };
        let report = report.map_err(|error| RunError::Pipe(error.to_string()))?;
        result.pipe(&report);
        if let (Some((store, id)), Some(data)) = (&store, result.extract_load_mut()) {
            // Read back rather than tracked here: what the next run will start from.
            data.state_after(store.get(id).ok());
        }
        if let Some(lease) = lease {
            self.release_lease(lease);
        }
        dir.close()?;
        let written = match written {
            Ok(written) => written,
            Err(error) if report.success() => return Err(RunError::State(error.to_string())),
            Err(error) => {
                // The block failed anyway; its failure is the error, this one is logged.
                self.logger.event(
                    Level::Error,
                    "state",
                    &format!("could not save state: {error}"),
                    &[],
                );
                Written::default()
            }
        };
        if report.success() {
            let (count, what) = if store.is_some() {
                (stored, "stored")
            } else {
                (report.states, "received, none stored")
            };
            let writes = if 0 < written.writes && written.writes < count {
                format!(" in {} writes", written.writes)
            } else {
                String::new()
            };
            self.logger.event(
                Level::Info,
                "block_succeeded",
                &format!(
                    "{extractor} -> {loader}: {count} state{} {what}{writes}",
                    if count == 1 { "" } else { "s" }
                ),
                &[],
            );
            Ok(())
        } else {
            Err(RunError::Failed(format!(
                "{extractor} -> {loader}: {}",
                report.outcome
            )))
        }
    }

    /// Log what storing a state line did, as Meltano logs skipped lines, plus bookmarks that
    /// moved backwards.
    fn log_recorded(&self, recorded: &super::state::recorder::Recorded) {
        // Meltano's words (`BookmarkWriter.writeline`).
        let skipped = match recorded.line {
            TargetLine::Empty => {
                Some("Received empty state, incremental state has not been updated")
            }
            TargetLine::Invalid => {
                Some("Received state is invalid, incremental state has not been updated")
            }
            TargetLine::Update(_) => None,
        };
        if let Some(message) = skipped {
            self.logger
                .event(Level::Warning, "state_skipped", message, &[]);
        }
        for regression in &recorded.regressions {
            self.logger.event(
                Level::Warning,
                "bookmark_backwards",
                &format!(
                    "{regression} (without --full-refresh); `meltc-run state history` and \
                     `state rollback` restore the state before this run"
                ),
                &[("stream", json!(regression.stream))],
            );
        }
    }

    /// The run lease of a step's state ID (module docs).
    fn take_lease(
        &self,
        store: &StateStore,
        id: &StateId,
        command: &str,
    ) -> Result<RunLease, RunError> {
        let lease =
            store
                .lease(id, &Holder::this_process(command))
                .map_err(|error| match error {
                    StateError::LeaseHeld { .. } => RunError::LeaseHeld(error.to_string()),
                    other => RunError::State(format!("cannot take the run lease: {other}")),
                })?;
        if lease.waited() >= Duration::from_secs(1) {
            self.logger.event(
                Level::Info,
                "lease_waited",
                &format!(
                    "state `{id}`: waited {:.1} s for another run to finish",
                    lease.waited().as_secs_f64()
                ),
                &[],
            );
        }
        Ok(lease)
    }

    /// Give the lease back; a failure only delays the next run until the lease expires.
    fn release_lease(&self, lease: RunLease) {
        let lost = lease.ensure_held().err();
        if let Err(error) = lease.release() {
            self.logger.event(
                Level::Warning,
                "lease_not_released",
                &format!("{error}; the next run can start once the lease expires"),
                &[],
            );
        }
        if let Some(error) = lost {
            self.logger
                .event(Level::Warning, "lease_lost", &error.to_string(), &[]);
        }
    }

    fn process_of(
        &self,
        plugin: &Plugin,
        prepared: &Prepared,
        kind: PluginKind,
        args: Vec<OsString>,
    ) -> pipe::Plugin {
        pipe::Plugin {
            name: plugin.name.clone(),
            kind,
            program: self.program(plugin, &plugin.executable),
            args,
            env: prepared
                .env
                .iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
            cwd: self.project_root.clone(),
        }
    }

    /// The state store and ID of a step, when state is kept: an environment, a tap with the
    /// `state` capability, and no `--no-state-update` (Meltano's `ExtractLoadBlocks.__init__`
    /// in `core/block/extract_load.py`, `SingerTap.look_up_state` in `core/plugin/singer/tap.py`).
    fn state_store(
        &self,
        tap: &Plugin,
        state_id: Option<&str>,
        prepared: &Prepared,
        options: &RunOptions,
    ) -> Result<Option<(StateStore, StateId)>, RunError> {
        let Some(base) = state_id else {
            self.logger.event(
                Level::Info,
                "stateless",
                "No active environment, proceeding with stateless run!",
                &[],
            );
            return Ok(None);
        };
        if options.no_state_update || !tap.capabilities.iter().any(|c| c == "state") {
            return Ok(None);
        }
        if let Some(job) = &options.ephemeral_job {
            if !self.state_backend_overridden() {
                self.logger.event(
                    Level::Warning,
                    "state_ephemeral",
                    &format!(
                        "job `{job}` was built with --allow-ephemeral-state: environment `{}` keeps state in `{}`, which this pod loses, so `{}` runs as a full sync and no state is read or written",
                        self.manifest
                            .environment
                            .as_ref()
                            .map_or("", |environment| environment.name.as_str()),
                        super::state::uri::redact(&self.manifest.state.uri),
                        tap.name
                    ),
                    &[],
                );
                return Ok(None);
            }
        }
        let environment_suffix = self.manifest.environment.as_ref().and_then(|environment| {
            environment.state_id_suffix.as_ref().map(|suffix| {
                Template::parse(suffix).expand(&|var| prepared.env.get(var).map(String::as_str))
            })
        });
        let environment = self
            .manifest
            .environment
            .as_ref()
            .map(|environment| (environment.name.as_str(), environment_suffix.as_deref()));
        let id = state_id::for_step(base, environment, options.state_id_suffix.as_deref())
            .map_err(|error| RunError::State(error.to_string()))?;
        let missing = required::state_backend_secrets(self.manifest, &self.process);
        if !missing.is_empty() {
            return Err(RunError::Variable(required::describe(
                "the state backend",
                &missing,
            )));
        }
        let variables = self.project_variables();
        let mut settings = StateBackendSettings::from_meltano_env(&variables)
            .map_err(|error| RunError::State(error.to_string()))?
            .ok_or_else(|| {
                RunError::State(format!(
                    "state ID `{}` needs a state backend meltc-run writes (`s3://` or `file://`); the environment keeps state in `{}`. Set MELTANO_STATE_BACKEND_URI, run with --no-state-update, or build with --allow-ephemeral-state to run its jobs as full syncs",
                    id.as_str(),
                    self.manifest.state.uri
                ))
            })?;
        settings.lease.wait = options.lease_wait;
        let store = StateStore::open(&settings, &variables).map_err(|error| match error {
            StateError::Uri(UriError::UnsupportedScheme { .. }) => RunError::State(format!(
                "{error}; or build with --allow-ephemeral-state to run its jobs as full syncs"
            )),
            error => RunError::State(error.to_string()),
        })?;
        Ok(Some((store, id)))
    }

    /// Whether the pod's own environment names another state backend than the one the build
    /// judged (`MELTANO_STATE_BACKEND_URI` wins over meltano.yml at run time, as in Meltano):
    /// then state is kept there, and an ephemeral job is not a full sync.
    fn state_backend_overridden(&self) -> bool {
        self.process
            .get(super::state::backend_settings::env_vars::MELTANO_STATE_BACKEND_URI)
            .is_some_and(|uri| !uri.is_empty() && *uri != self.manifest.state.uri)
    }

    /// The project-level variables (no plugin): where state backend settings are read.
    #[must_use]
    pub fn project_variables(&self) -> BTreeMap<String, String> {
        project_variables(self.manifest, &self.host())
            .into_iter()
            .collect()
    }

    /// Discover the catalog (or read the `catalog:` file, or reuse the cached one) and apply
    /// the selection rules.
    fn catalog(
        &self,
        tap: &Plugin,
        prepared: &Prepared,
        dir: &RunDir,
        refresh: bool,
    ) -> Result<PathBuf, RunError> {
        let failed = |message: String| RunError::Catalog {
            plugin: tap.name.clone(),
            message,
        };
        let custom = prepared
            .extra("_catalog")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let rules = catalog_rules(prepared);
        let cache = self.catalog_cache(tap, prepared, &rules);
        let cached = cache
            .as_ref()
            .filter(|_| !refresh)
            .and_then(CatalogCache::load);
        let mut catalog: Value = if let Some(path) = custom {
            let text = fs_err::read_to_string(self.project_root.join(&path))
                .map_err(|e| failed(e.to_string()))?;
            serde_json::from_str(&text).map_err(|e| failed(format!("`{path}` is not JSON: {e}")))?
        } else if let Some(cached) = cached {
            self.logger.event(
                Level::Info,
                "catalog_cached",
                &format!("{}: using the cached catalog", tap.name),
                &[],
            );
            cached
        } else if let Some(pinned) = cache
            .as_ref()
            .filter(|_| !refresh)
            .and_then(|_| self.pinned_catalog(tap, prepared))
        {
            pinned
        } else {
            self.discover(tap, prepared, dir)?
        };
        catalog::apply(&mut catalog, &rules).map_err(|e| failed(e.to_string()))?;
        let text = catalog::catalog_file(&catalog);
        if let Some(cache) = &cache {
            if let Err(error) = cache.store(&text) {
                self.logger.event(
                    Level::Info,
                    "catalog_not_cached",
                    &format!("{}: the catalog cache cannot be written: {error}", tap.name),
                    &[],
                );
            }
        }
        Ok(dir.write(&tap.name, FileKind::Catalog, text.as_bytes())?)
    }

    /// Run `tap --discover` with its config file (already written into `dir`): the catalog
    /// it prints.
    fn discover(&self, tap: &Plugin, prepared: &Prepared, dir: &RunDir) -> Result<Value, RunError> {
        let failed = |message: String| RunError::Catalog {
            plugin: tap.name.clone(),
            message,
        };
        let config = dir.file_path(&tap.name, FileKind::Config);
        let output = Command::new(self.program(tap, &tap.executable))
            .args([
                OsString::from("--config"),
                config.into_os_string(),
                "--discover".into(),
            ])
            .env_clear()
            .envs(&prepared.env)
            .current_dir(&self.project_root)
            .output()
            .map_err(|e| failed(format!("cannot start `{}`: {e}", tap.executable)))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(failed(format!(
                "discovery failed ({}): {}",
                output.status,
                stderr.lines().last().unwrap_or_default()
            )));
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|e| failed(format!("discovery printed no JSON catalog: {e}")))
    }

    /// The project's pinned catalog of `tap` ([`super::pinned_catalog`]) when its key is the
    /// key of this run's settings; a missing, unreadable or stale one means "discover" (logged
    /// when it exists).
    fn pinned_catalog(&self, tap: &Plugin, prepared: &Prepared) -> Option<Value> {
        let environment = self.manifest.environment.as_ref().map(|e| e.name.as_str());
        let skipped = |why: String| {
            self.logger.event(
                Level::Info,
                "catalog_pinned_skipped",
                &format!("{}: {why}; discovering", tap.name),
                &[],
            );
        };
        let folder = self
            .catalogs_dir
            .clone()
            .unwrap_or_else(|| self.project_root.join(pinned_catalog::FOLDER));
        let (path, pinned) = match pinned_catalog::load(&folder, &tap.name, environment) {
            Ok(found) => found?,
            Err(error) => {
                skipped(format!("the pinned catalog cannot be read: {error}"));
                return None;
            }
        };
        if pinned.key != pinned_catalog::key(&prepared.values) {
            skipped(format!(
                "the pinned catalog `{}` was discovered with other settings",
                path.display()
            ));
            return None;
        }
        self.logger.event(
            Level::Info,
            "catalog_pinned",
            &format!(
                "{}: using the pinned catalog `{}`",
                tap.name,
                path.display()
            ),
            &[],
        );
        Some(pinned.catalog)
    }

    /// Discover `extractor`'s catalog as a run of this environment would (its variables and
    /// config file, the same program), for `meltc catalog`: the catalog the tap printed and the
    /// [`pinned_catalog::key`] of the settings it ran with. A catalog in which a secret value
    /// appears is refused. `None` when a run discovers nothing: the extractor takes no catalog
    /// (neither `catalog` nor `properties` capability) or has its own `catalog:` file.
    ///
    /// # Errors
    /// An unknown extractor, a missing secret, a failed discovery.
    pub fn discover_to_pin(
        &self,
        extractor: &str,
    ) -> Result<Option<pinned_catalog::Pinned>, RunError> {
        let tap = self.plugin("extractors", extractor)?;
        if catalog::catalog_flag(&tap.capabilities).is_none() {
            return Ok(None);
        }
        let prepared = self.prepare(tap, &self.process)?;
        if prepared.extra("_catalog").is_some_and(Value::is_string) {
            return Ok(None);
        }
        let dir = RunDir::create()?;
        dir.write_json(
            &tap.name,
            FileKind::Config,
            &Value::Object(prepared.config.clone()),
        )?;
        let discovered = self.discover(tap, &prepared, &dir);
        dir.close()?;
        let catalog = discovered?;
        let secrets = pinned_catalog::secrets_in(&prepared.values, &catalog.to_string());
        if !secrets.is_empty() {
            return Err(RunError::Catalog {
                plugin: tap.name.clone(),
                message: format!(
                    "the discovered catalog contains the value of the secret setting(s) {}; it is not pinned",
                    secrets.join(", ")
                ),
            });
        }
        Ok(Some(pinned_catalog::Pinned {
            key: pinned_catalog::key(&prepared.values),
            catalog,
        }))
    }

    /// The catalog cache of `tap`, when Meltano would cache: `use_cached_catalog` (default
    /// true), a `pip_url` that is not editable, no custom catalog.
    fn catalog_cache(
        &self,
        tap: &Plugin,
        prepared: &Prepared,
        rules: &Rules,
    ) -> Option<CatalogCache> {
        if prepared.extra("_use_cached_catalog") == Some(&Value::Bool(false)) {
            return None;
        }
        let config: serde_json::Map<String, Value> = prepared
            .values
            .iter()
            .filter(|value| !value.setting.name.starts_with('_'))
            .map(|value| {
                (
                    value.setting.name.clone(),
                    value.value.clone().unwrap_or(Value::Null),
                )
            })
            .collect();
        let key = catalog::cache_key(tap.pip_url.as_deref(), &config, rules)?;
        Some(CatalogCache::new(&self.project_root, &tap.name, key))
    }

    /// Run `plugin` alone: a named command, or the executable with `args`.
    ///
    /// # Errors
    /// An unknown command, a configuration error, a failed process.
    pub fn command(
        &self,
        name: &str,
        command: Option<&str>,
        args: &[String],
    ) -> Result<(), RunError> {
        let (executable, status) = self.command_status(name, command, args)?;
        command_succeeded(name, &executable, status)
    }

    /// Run `plugin` alone (see [`Runtime::command`]); returns the program run and how it
    /// ended.
    fn command_status(
        &self,
        name: &str,
        command: Option<&str>,
        args: &[String],
    ) -> Result<(String, ExitStatus), RunError> {
        let found = self
            .manifest
            .find_plugin(name)
            .map_err(|error| RunError::Blocks(error.to_string()))?
            .ok_or_else(|| RunError::Blocks(format!("the manifest has no plugin `{name}`")))?;
        // A mapping runs as the plugin Meltano makes of it (`resolve::mapping`).
        let (plugin, mapping) = match found {
            Found::Plugin(plugin) => (Cow::Borrowed(plugin), None),
            Found::Mapping(mapper, mapping) => {
                (Cow::Owned(mapper.mapping_plugin(mapping)), Some(mapping))
            }
        };
        let plugin = plugin.as_ref();
        let prepared = self.prepare(plugin, &self.process)?;
        let (executable, mut words) = match command {
            Some(command) => {
                let definition = plugin.commands.get(command).ok_or_else(|| {
                    RunError::Blocks(format!("`{name}` has no command `{command}`"))
                })?;
                let mut words = Vec::new();
                let split =
                    crate::meltano::shell_words::split(&definition.args).map_err(|problem| {
                        RunError::Config {
                            plugin: name.to_owned(),
                            problems: format!("command `{command}`: {problem}"),
                        }
                    })?;
                for word in split {
                    let expanded = Template::parse(&word)
                        .expand(&|var| prepared.env.get(var).map(String::as_str));
                    if expanded.is_empty() && !word.is_empty() {
                        return Err(RunError::Variable(format!(
                            "Command '{command}' referenced unset environment variable"
                        )));
                    }
                    words.push(expanded);
                }
                (
                    definition
                        .executable
                        .clone()
                        .unwrap_or_else(|| plugin.executable.clone()),
                    words,
                )
            }
            None => (plugin.executable.clone(), Vec::new()),
        };
        // A Singer plugin invoked without a named command gets its config file first, as
        // Meltano's `exec_args` gives it (`meltc-run invoke tap-x --discover`).
        let singer = plugin.class.is_singer();
        let dir = (command.is_none() && singer)
            .then(RunDir::create)
            .transpose()?;
        if let Some(dir) = &dir {
            let content = match mapping {
                Some(mapping) => mapping_config(self.manifest, mapping, &prepared, &self.host()),
                None => prepared.config.clone(),
            };
            let config = dir.write_json(name, FileKind::Config, &Value::Object(content))?;
            words.splice(0..0, ["--config".to_owned(), config.display().to_string()]);
            // In sync mode (no arguments) Meltano's extractor hooks discover the catalog and
            // apply the selection rules before invoking, and `exec_args` passes it
            // (`meltano/core/plugin/singer/tap.py`: `discover_catalog_hook`,
            // `apply_catalog_rules_hook`, `SingerTap.exec_args`); no state outside a job.
            let extractor = plugin.plugin_type == PluginType::Extractors;
            if extractor && command.is_none() && args.is_empty() {
                if let Some(flag) = catalog::catalog_flag(&plugin.capabilities) {
                    let catalog = self.catalog(plugin, &prepared, dir, false)?;
                    words.extend([flag.to_owned(), catalog.display().to_string()]);
                }
            }
        }
        words.extend(args.iter().cloned());
        let status = Command::new(self.program(plugin, &executable))
            .args(&words)
            .env_clear()
            .envs(&prepared.env)
            .current_dir(&self.project_root)
            .status()
            .map_err(|e| RunError::Failed(format!("{name}: cannot start `{executable}`: {e}")))?;
        if let Some(dir) = dir {
            dir.close()?;
        }
        Ok((executable, status))
    }
}

/// The selection rules of a prepared extractor (its `select`, `metadata`, `schema`,
/// `select_filter` and `catalog` extras): what [`catalog::apply`] applies.
#[must_use]
pub fn catalog_rules(prepared: &Prepared) -> Rules {
    let strings = |name: &str| -> Vec<String> {
        match prepared.extra(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let object = |name: &str| {
        prepared
            .extra(name)
            .cloned()
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()))
    };
    Rules {
        select: strings("_select"),
        metadata: object("_metadata"),
        schema: object("_schema"),
        select_filter: strings("_select_filter"),
        custom_catalog: prepared.extra("_catalog").is_some_and(Value::is_string),
    }
}

/// A command step's end as a result: failed unless it exited 0.
fn command_succeeded(name: &str, executable: &str, status: ExitStatus) -> Result<(), RunError> {
    if status.success() {
        Ok(())
    } else {
        Err(RunError::Failed(format!(
            "{name}: `{executable}` exited with {status}"
        )))
    }
}

fn describe(step: &Step) -> String {
    match step {
        Step::ExtractLoad {
            extractor,
            mappings,
            loader,
            state_id,
            ..
        } => {
            let mut blocks = vec![extractor.clone()];
            blocks.extend(mappings.iter().map(|m| m.mapping.clone()));
            blocks.push(loader.clone());
            format!(
                "{} (state ID {})",
                blocks.join(" | "),
                state_id.as_deref().unwrap_or("none: stateless")
            )
        }
        Step::Command { plugin, command } => match command {
            Some(command) => format!("{plugin}:{command}"),
            None => plugin.clone(),
        },
    }
}
