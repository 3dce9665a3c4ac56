//! What the generated Kubernetes files deploy, read back from their text: the image each
//! CronJob runs, the keys of the Secret the pods read, the ConfigMap's values, and the
//! Dockerfile's base images. Read from the files, not the manifest, so that a build output
//! folder or a git revision is judged by what `kubectl apply` would send.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::diagnostics::{FileId, SourceFile};
use crate::emit::Artifacts;

/// What the Kubernetes files and the Dockerfile of one side deploy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kubernetes {
    /// `cronjob/<name>` -> the image of its containers (`FROM` lines as `Dockerfile FROM <n>`).
    pub images: BTreeMap<String, String>,
    /// Keys of the Secret (the example Secret lists every key the pods reference).
    pub secret_keys: BTreeSet<String>,
    /// The ConfigMap's `data`.
    pub config_map: BTreeMap<String, String>,
}

impl Kubernetes {
    /// Read the facts from the generated files (paths relative to the output folder).
    ///
    /// # Errors
    /// A Kubernetes file that is not YAML: its path and the parser's message.
    pub fn read(files: &Artifacts) -> Result<Self, String> {
        let mut facts = Self::default();
        for (path, text) in files {
            if path == "Dockerfile" {
                facts.dockerfile(text);
                continue;
            }
            if !(path.starts_with("k8s/") && path.ends_with(".yaml")) {
                continue;
            }
            let Some(document) = yaml_json(path, text)? else {
                continue;
            };
            match document.get("kind").and_then(Value::as_str) {
                Some("CronJob") => facts.cronjob(&document),
                Some("Secret") => {
                    for field in ["stringData", "data"] {
                        if let Some(keys) = document.get(field).and_then(Value::as_object) {
                            facts.secret_keys.extend(keys.keys().cloned());
                        }
                    }
                }
                Some("ConfigMap") => {
                    if let Some(data) = document.get("data").and_then(Value::as_object) {
                        for (key, value) in data {
                            facts.config_map.insert(key.clone(), text_of(value));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(facts)
    }

    fn cronjob(&mut self, document: &Value) {
        let name = document
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let containers = document
            .pointer("/spec/jobTemplate/spec/template/spec/containers")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let images: BTreeSet<&str> = containers
            .iter()
            .filter_map(|container| container.get("image").and_then(Value::as_str))
            .collect();
        let images: Vec<&str> = images.into_iter().collect();
        self.images
            .insert(format!("cronjob/{name}"), images.join(", "));
    }

    fn dockerfile(&mut self, text: &str) {
        let froms = text
            .lines()
            .map(str::trim_start)
            .filter(|line| {
                line.get(..5)
                    .is_some_and(|word| word.eq_ignore_ascii_case("FROM "))
            })
            .map(|line| line[5..].trim());
        for (index, from) in froms.enumerate() {
            self.images
                .insert(format!("Dockerfile FROM {}", index + 1), from.to_owned());
        }
    }
}

/// A YAML file as JSON (`None` when it holds no document).
fn yaml_json(path: &str, text: &str) -> Result<Option<Value>, String> {
    let source = SourceFile::new(path, path, text);
    let parsed = crate::yaml::parse(FileId(0), &source);
    if let Some(error) = parsed.diagnostics.iter().find(|d| d.is_error()) {
        return Err(format!("{path} is not YAML: {}", error.message));
    }
    Ok(parsed.root.map(|root| root.to_json()))
}

/// A ConfigMap value as text (the generated ones are strings; a hand-written number is kept as
/// written).
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_images_secret_keys_and_config_values() {
        let files = Artifacts::from([
            (
                "Dockerfile".to_owned(),
                "# syntax=docker/dockerfile:1\nFROM python:3.12-slim AS build\nRUN x\nfrom meltc:0.1.0 AS meltc\n".to_owned(),
            ),
            (
                "k8s/cronjob-a.yaml".to_owned(),
                "kind: CronJob\nmetadata:\n  name: a\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - name: meltc-run\n            image: shop-prod\n".to_owned(),
            ),
            (
                "k8s/secret.example.yaml".to_owned(),
                "kind: Secret\nstringData:\n  # comment\n  PG_PASSWORD: \"\"\n".to_owned(),
            ),
            (
                "k8s/configmap.yaml".to_owned(),
                "kind: ConfigMap\ndata:\n  MELTANO_ENVIRONMENT: prod\n  N: 3\n".to_owned(),
            ),
        ]);
        let facts = Kubernetes::read(&files).unwrap();
        assert_eq!(facts.images["cronjob/a"], "shop-prod");
        assert_eq!(
            facts.images["Dockerfile FROM 1"],
            "python:3.12-slim AS build"
        );
        assert_eq!(facts.images["Dockerfile FROM 2"], "meltc:0.1.0 AS meltc");
        assert_eq!(
            facts.secret_keys.iter().collect::<Vec<_>>(),
            ["PG_PASSWORD"]
        );
        assert_eq!(facts.config_map["MELTANO_ENVIRONMENT"], "prod");
        assert_eq!(facts.config_map["N"], "3");
    }

    #[test]
    fn a_broken_kubernetes_file_is_named() {
        let files = Artifacts::from([("k8s/x.yaml".to_owned(), "a: [\n".to_owned())]);
        let error = Kubernetes::read(&files).unwrap_err();
        assert!(error.starts_with("k8s/x.yaml is not YAML"), "{error}");
    }
}
