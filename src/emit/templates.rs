//! The minijinja templates of the generated files, embedded in the binary.
//!
//! Templates only loop, branch and print: every name, ordering, quoting and default is decided
//! in Rust and handed over in one `Serialize` context per template. Undefined values are
//! errors, and output always ends with exactly one newline.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// `templates/docker/Dockerfile.j2`.
pub const DOCKERFILE: &str = "docker/Dockerfile.j2";
/// `templates/docker/dockerignore.j2`.
pub const DOCKERIGNORE: &str = "docker/dockerignore.j2";
/// `templates/docker/install-plugins.sh.j2`.
pub const INSTALL_SCRIPT: &str = "docker/install-plugins.sh.j2";
/// `templates/dagster/definitions.py.j2`.
pub const DAGSTER_DEFINITIONS: &str = "dagster/definitions.py.j2";

/// Every template: id and source.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        DOCKERFILE,
        include_str!("../../templates/docker/Dockerfile.j2"),
    ),
    (
        DOCKERIGNORE,
        include_str!("../../templates/docker/dockerignore.j2"),
    ),
    (
        INSTALL_SCRIPT,
        include_str!("../../templates/docker/install-plugins.sh.j2"),
    ),
    (
        DAGSTER_DEFINITIONS,
        include_str!("../../templates/dagster/definitions.py.j2"),
    ),
];

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    // Nothing rendered here is HTML.
    environment.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    for (id, source) in TEMPLATES {
        environment.add_template(id, source)?;
    }
    Ok(environment)
}

/// Render template `id` with `context`.
///
/// # Errors
/// A template that does not render is a bug in meltc; the message says so.
pub fn render(id: &str, context: &impl Serialize) -> Result<String, String> {
    let rendered = environment()
        .and_then(|environment| environment.get_template(id)?.render(minijinja::value::Serde(context)))
        .map_err(|error| format!("template `{id}` failed to render ({error:#}): this is a bug in meltc, please report it"))?;
    let mut text = rendered.trim_end().to_owned();
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::{TEMPLATES, environment};

    #[test]
    fn every_template_parses() {
        let environment = environment().unwrap();
        for (id, _) in TEMPLATES {
            environment.get_template(id).unwrap();
        }
    }
}
