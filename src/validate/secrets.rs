//! Secrets written literally in a committed file (README "Secrets, literal or not"): a
//! sensitive setting's value in a `config:` (the plugin's or an environment's entry), a project
//! setting with a secret-looking name, and a secret variable in an `env:` block (the project's,
//! a plugin's, an environment's, an environment's plugin entry's, a schedule's). Each is a
//! warning at the literal, whose text every report masks; `meltc build` keeps the value out of
//! every artifact and makes it a key of the Secret. What is a secret is [`SecretNames`]'s answer, the one the build uses.

use super::ProjectIndex;
use crate::diagnostics::{Diagnostic, codes};
use crate::meltano::env_var::env_var_part;
use crate::meltano::env_var::to_env_var;
use crate::project::model::{self, Named, Plugin};
use crate::resolve::secrets::{
    SecretNames, env_blocks, is_literal_node, is_literal_text, leaves, looks_secret,
    sensitive_setting,
};
use crate::yaml::{Node, Value};

/// The literal secrets of the project's `env:` blocks and settings, and of the `selected`
/// environments' blocks (plugins' `config:` literals are checked with the environments).
pub fn check(index: &ProjectIndex<'_>, selected: &[Named<'_>], diagnostics: &mut Vec<Diagnostic>) {
    project_settings(index, diagnostics);
    let names = SecretNames::new(&index.resolved);
    for (owner, block) in env_blocks(&index.project.merged) {
        if owner
            .environment()
            .is_some_and(|environment| !selected.iter().any(|s| s.name == environment))
        {
            continue;
        }
        let Some(block) = block.as_mapping() else {
            continue;
        };
        for (name, (_, value)) in block {
            // The text Meltano hands over (`1234` and `true` too), as `meltc build` reads it.
            let literal = value
                .scalar_text()
                .is_some_and(|text| is_literal_text(&text));
            if !literal {
                continue;
            }
            if let Some(reason) = names.env_var(name) {
                diagnostics.push(
                    Diagnostic::new(&codes::ENV_LITERAL_SECRET, format!("`{name}` in {} has a literal value, and {reason}", owner.describe()))
                        .at(value.span, "secret written in the file")
                        .hiding(value.span)
                        .help(format!("remove it and set `{name}` where the process runs instead (`.env` locally, the Secret in a pod): a plugin sees it there too; `meltc build` already makes it a key of the Secret")),
                );
            }
        }
    }
}

/// A literal, non-empty value for a secret setting of `plugin` in a `config:` mapping.
pub fn config_literals<'a>(
    index: &ProjectIndex<'a>,
    plugin: &Plugin<'a>,
    config: Option<&Node>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let Some(config) = config else {
        return;
    };
    let Some(resolved) = index.resolved(plugin) else {
        return;
    };
    if !resolved.settings.iter().any(|setting| setting.sensitive) {
        return;
    }
    for (name, value) in leaves(config) {
        let Some(setting) = sensitive_setting(resolved, &name) else {
            continue;
        };
        if !is_literal_node(value) {
            continue;
        }
        let variable = format!("{}_{}", env_var_part(plugin.name()), env_var_part(setting));
        diagnostics.push(
            Diagnostic::new(&codes::SETTING_LITERAL_SECRET, format!("the secret setting `{name}` of `{}` has a literal value", plugin.name()))
                .at(value.span, "secret written in the file")
                .hiding(value.span)
                .help(format!("commit a reference instead, e.g. `{setting}: ${{{variable}}}`, and keep the value in a Kubernetes Secret or `.env`")),
        );
    }
}

/// A project setting with a secret-looking name (`state_backend.s3.aws_secret_access_key`)
/// and a literal value.
fn project_settings(index: &ProjectIndex<'_>, diagnostics: &mut Vec<Diagnostic>) {
    for (key, node) in model::project_settings(&index.project.merged) {
        let mut found = vec![(key.to_owned(), node)];
        if node.as_mapping().is_some_and(|mapping| !mapping.is_empty()) {
            found = leaves(node)
                .into_iter()
                .map(|(path, value)| (format!("{key}.{path}"), value))
                .collect();
        }
        for (name, value) in found {
            if !looks_secret(&name) || !literal_scalar(value) {
                continue;
            }
            let variable = to_env_var("meltano", &name);
            diagnostics.push(
                Diagnostic::new(&codes::SETTING_LITERAL_SECRET, format!("the secret project setting `{name}` has a literal value"))
                    .at(value.span, "secret written in the file")
                    .hiding(value.span)
                    .help(format!("remove it and set `{variable}` where Meltano runs instead (`.env` locally, the Secret in a pod): Meltano reads it before meltano.yml")),
            );
        }
    }
}

fn literal_scalar(node: &Node) -> bool {
    matches!(
        node.value,
        Value::String(_) | Value::Int(_) | Value::Float(_)
    ) && is_literal_node(node)
}
