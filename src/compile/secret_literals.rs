//! Secrets that meltano.yml writes literally, kept out of the manifest (README "Secrets,
//! literal or not"). What is a secret is [`SecretNames`]'s answer, the same that `meltc
//! validate` warns with; each literal secret becomes a key of the Secret:
//!
//! - an `env:` entry (the project's, an environment's, a plugin's or its environment entry's)
//!   is replaced by a [`SecretLiteral`] naming its key, by default the variable's own name;
//!   meltc-run takes that key out of the environment the plugins see and puts the value back
//!   where the entry was, so every plugin gets exactly the variables Meltano would give it;
//! - a sensitive setting's value likewise, its key the setting's variable (`TAP_X_PASSWORD`,
//!   the plugin that writes the literal: a parent's for an inherited value);
//! - a schedule's `env:` entry is a variable of the pod itself: its key is read into that
//!   variable (`valueFrom`), and never taken out;
//! - a project setting (`state_backend.s3.aws_secret_access_key`) is left out of the manifest:
//!   its key is its own variable (`MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY`), which
//!   Meltano and meltc-run read before meltano.yml anyway.
//!
//! Two different literals for the same name get two keys (`TOKEN`, then `TOKEN_2`), and a key
//! taken out of the plugins' environment never has the name of a variable a schedule gives the
//! pod. Keys are given in manifest order, so a build is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::manifest::{EnvMap, EnvValue, LiteralKey, Manifest, SecretLiteral};
use crate::meltano::env_var::to_env_var;
use crate::resolve::secrets::{SecretNames, is_literal_text, looks_secret};

/// The Secret keys given so far.
struct Keys {
    /// Key -> (the literal it holds, what the manifest says about it).
    given: BTreeMap<String, (String, LiteralKey)>,
    /// Variables the schedules give the pods: never a key taken out of the environment.
    pod_variables: BTreeSet<String>,
}

impl Keys {
    /// The key for `literal` written at `place`, preferably `preferred`.
    fn key(
        &mut self,
        preferred: &str,
        literal: &str,
        place: String,
        reason: String,
        taken_out: bool,
    ) -> String {
        for number in 1.. {
            let candidate = if number == 1 {
                preferred.to_owned()
            } else {
                format!("{preferred}_{number}")
            };
            if taken_out && self.pod_variables.contains(&candidate) {
                continue;
            }
            match self.given.get_mut(&candidate) {
                Some((held, described)) if held == literal => {
                    if !described.written_at.contains(&place) {
                        described.written_at.push(place);
                        described.written_at.sort();
                    }
                    return candidate;
                }
                Some(_) => {}
                None => {
                    self.given.insert(
                        candidate.clone(),
                        (
                            literal.to_owned(),
                            LiteralKey {
                                reason,
                                written_at: vec![place],
                            },
                        ),
                    );
                    return candidate;
                }
            }
        }
        unreachable!("an unbounded range always yields a free key")
    }
}

/// Replace every literal secret of `manifest` by its Secret key, and list the keys in
/// [`Manifest::secret_literals`].
pub fn keep_out(manifest: &mut Manifest, names: &SecretNames<'_, '_>) {
    drop_overridden(manifest, names);
    let mut keys = Keys {
        given: BTreeMap::new(),
        pod_variables: manifest
            .schedules
            .iter()
            .flat_map(|schedule| schedule.env.keys().cloned())
            .collect(),
    };
    env_block(&mut manifest.env, "env", names, &mut keys, true);
    if let Some(environment) = &mut manifest.environment {
        env_block(
            &mut environment.env,
            "environment.env",
            names,
            &mut keys,
            true,
        );
    }
    let writers = setting_writers(manifest);
    for (index, plugin) in manifest.plugins.iter_mut().enumerate() {
        let place = format!("{}.{}", plugin.plugin_type, plugin.name);
        for block in &mut plugin.env {
            // The plugin's own block is `.env`; a parent's or the environment's says whose.
            let whose = if block.from == plugin.name {
                format!("{place}.env")
            } else {
                format!("{place}.env[{}]", block.from)
            };
            env_block(&mut block.vars, &whose, names, &mut keys, true);
        }
        for setting in plugin.settings.iter_mut().chain(&mut plugin.extras) {
            let Some(writer) = writers.get(&(index, setting.name.clone())) else {
                continue;
            };
            let Some(value) = setting.value.take() else {
                continue;
            };
            let used_at = format!("{place}.{}", setting.name);
            let key = keys.key(
                &to_env_var(writer, &setting.name),
                &literal_text(&value),
                used_at.clone(),
                format!("the sensitive setting `{used_at}` has a literal value in meltano.yml"),
                true,
            );
            setting.secret_literal = Some(SecretLiteral {
                key,
                json: !value.is_string(),
            });
        }
    }
    for schedule in &mut manifest.schedules {
        let place = format!("schedules.{}.env", schedule.name);
        env_block(&mut schedule.env, &place, names, &mut keys, false);
    }
    let settings = std::mem::take(&mut manifest.settings);
    for (name, value) in settings {
        if looks_secret(&name) && is_literal_value(&value) {
            let place = format!("settings.{name}");
            keys.key(
                &to_env_var("meltano", &name),
                &literal_text(&value),
                place,
                format!("the project setting `{name}` has a literal value in meltano.yml"),
                false,
            );
        } else {
            manifest.settings.insert(name, value);
        }
    }
    manifest.secret_literals = keys
        .given
        .into_iter()
        .map(|(key, (_, described))| (key, described))
        .collect();
}

/// The sensitive settings (plugin index, setting name) whose value is a literal written in
/// meltano.yml (the plugin's `config:` or the environment's), with the plugin that writes it:
/// the plugin itself, or the parent an inherited value comes from. A definition's default is
/// not written by the project, so it stays.
fn setting_writers(manifest: &Manifest) -> BTreeMap<(usize, String), String> {
    let mut writers = BTreeMap::new();
    for (index, plugin) in manifest.plugins.iter().enumerate() {
        for setting in plugin.settings.iter().chain(&plugin.extras) {
            let literal = setting.value.as_ref().is_some_and(is_literal_value);
            if !setting.sensitive || !literal {
                continue;
            }
            let (mut owner, mut source) = (plugin, setting.source.as_deref());
            // A chain is never longer than the plugin list (cycles have no parent).
            for _ in 0..=manifest.plugins.len() {
                match source {
                    Some("meltano.yml" | "environment") => {
                        writers.insert((index, setting.name.clone()), owner.name.clone());
                        break;
                    }
                    Some(inherited) if inherited.starts_with("inherited:") => {
                        let parent = &inherited["inherited:".len()..];
                        let Some(found) =
                            manifest.plugin_of_type(owner.plugin_type.as_str(), parent)
                        else {
                            break;
                        };
                        owner = found;
                        source = found
                            .settings
                            .iter()
                            .chain(&found.extras)
                            .find(|candidate| candidate.name == setting.name)
                            .and_then(|candidate| candidate.source.as_deref());
                    }
                    _ => break,
                }
            }
        }
    }
    writers
}

/// Whether `value` is a literal that [`keep_out`] would make a key of the Secret.
fn is_secret_literal(name: &str, value: &EnvValue, names: &SecretNames<'_, '_>) -> bool {
    value.written().is_some_and(is_literal_text) && names.env_var(name).is_some()
}

/// Whether some entry of `blocks` reads `name`.
fn read_in<'a>(mut blocks: impl Iterator<Item = &'a EnvMap>, name: &str) -> bool {
    blocks.any(|block| {
        block.values().filter_map(EnvValue::written).any(|text| {
            crate::meltano::template::Template::parse(text)
                .references()
                .any(|read| read == name)
        })
    })
}

/// Leave out the literal secrets nothing can observe: a project `env:` entry that the
/// environment's `env:` sets again, and a plugin's `env:` entry that a block above it sets
/// again (the environment's `env:`, a later block of the plugin, the environment's entry for
/// it; the layers of README "`meltc config` and `meltano config print`"), when no entry reads
/// the variable in between. A base literal that production overrides with a reference then
/// needs no Secret key in production.
fn drop_overridden(manifest: &mut Manifest, names: &SecretNames<'_, '_>) {
    let Some(environment) = &manifest.environment else {
        return;
    };
    let environment_env = &environment.env;
    manifest.env.retain(|name, value| {
        let overridden =
            environment_env.contains_key(name) && !read_in(std::iter::once(environment_env), name);
        !(overridden && is_secret_literal(name, value, names))
    });
    for plugin in &mut manifest.plugins {
        let blocks: Vec<EnvMap> = plugin.env.iter().map(|block| block.vars.clone()).collect();
        for (index, block) in plugin.env.iter_mut().enumerate() {
            if block.from.starts_with("environment:") {
                continue;
            }
            block.vars.retain(|name, value| {
                let overridden = environment_env.contains_key(name)
                    || blocks[index + 1..]
                        .iter()
                        .any(|later| later.contains_key(name));
                let read = read_in(blocks.iter().chain(std::iter::once(environment_env)), name);
                !(overridden && !read && is_secret_literal(name, value, names))
            });
        }
        plugin.env.retain(|block| !block.vars.is_empty());
    }
}

/// Replace the literal secrets of one `env:` block.
fn env_block(
    vars: &mut EnvMap,
    place: &str,
    names: &SecretNames<'_, '_>,
    keys: &mut Keys,
    taken_out: bool,
) {
    for (name, value) in vars.iter_mut() {
        let Some(text) = value.written().filter(|text| is_literal_text(text)) else {
            continue;
        };
        let Some(reason) = names.env_var(name) else {
            continue;
        };
        let key = keys.key(
            name,
            text,
            format!("{place}.{name}"),
            format!("`{name}` has a literal value in meltano.yml and {reason}"),
            taken_out,
        );
        *value = EnvValue::Secret {
            secret_literal: SecretLiteral { key, json: false },
        };
    }
}

/// The text the Secret key holds for a value: a string as it is, anything else as JSON.
fn literal_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// Whether a setting value as written holds a literal: a non-empty string without a
/// reference, a number, or a mapping or list holding one.
fn is_literal_value(value: &Value) -> bool {
    match value {
        Value::String(text) => is_literal_text(text),
        Value::Number(_) => true,
        Value::Array(items) => items.iter().any(is_literal_value),
        Value::Object(map) => map.values().any(is_literal_value),
        Value::Null | Value::Bool(_) => false,
    }
}
