//! What a tap syncs from a catalog after Meltano's rules were applied: the selected streams and
//! their selected top-level properties, by the Singer SDK's rule
//! (`singer_sdk/_singerlib/catalog.py`, `MetadataMapping._breadcrumb_is_selected`):
//! `inclusion: unsupported` never, a property only when its stream is, `inclusion: automatic`
//! always, else `selected`, else `selected-by-default`, else not.

use serde_json::Value;

use crate::manifest::{Column, Stream};

/// The selected streams of `catalog`, in its order, as the manifest lists them.
#[must_use]
pub fn selected_streams(catalog: &Value) -> Vec<Stream> {
    catalog
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(selected_stream)
        .collect()
}

fn selected_stream(stream: &Value) -> Option<Stream> {
    let tap_stream_id = stream.get("tap_stream_id").and_then(Value::as_str)?;
    let root = metadata(stream, &[]);
    if !is_selected(root) {
        return None;
    }
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let strings = |value: Option<&Value>| -> Option<Vec<String>> {
        Some(
            value?
                .as_array()?
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
        )
    };
    let from_metadata = |key: &str| root.and_then(|md| md.get(key));
    let columns = stream
        .pointer("/schema/properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(name, _)| is_selected(metadata(stream, &["properties", name])))
        .map(|(name, schema)| column(name, schema))
        .collect();
    Some(Stream {
        tap_stream_id: tap_stream_id.to_owned(),
        stream: text(stream.get("stream")).filter(|name| name != tap_stream_id),
        table_name: text(stream.get("table_name")).or_else(|| text(from_metadata("table-name"))),
        key_properties: strings(from_metadata("table-key-properties"))
            .or_else(|| strings(stream.get("key_properties")))
            .unwrap_or_default(),
        replication_method: text(from_metadata("replication-method"))
            .or_else(|| text(stream.get("replication_method"))),
        replication_key: text(from_metadata("replication-key"))
            .or_else(|| text(stream.get("replication_key"))),
        columns,
    })
}

fn column(name: &str, schema: &Value) -> Column {
    let types = match schema.get("type") {
        Some(Value::String(kind)) => vec![kind.clone()],
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(|kind| kind.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Column {
        name: name.to_owned(),
        types,
        format: schema
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// The `metadata` of the entry with `breadcrumb` (the last one wins, as in the SDK's dict).
fn metadata<'a>(stream: &'a Value, breadcrumb: &[&str]) -> Option<&'a Value> {
    stream
        .get("metadata")
        .and_then(Value::as_array)?
        .iter()
        .rev()
        .find(|entry| {
            entry
                .get("breadcrumb")
                .and_then(Value::as_array)
                .is_some_and(|crumbs| {
                    crumbs.len() == breadcrumb.len()
                        && crumbs.iter().zip(breadcrumb).all(|(a, b)| a == b)
                })
        })?
        .get("metadata")
}

fn is_selected(metadata: Option<&Value>) -> bool {
    let Some(metadata) = metadata else {
        return false;
    };
    match metadata.get("inclusion").and_then(Value::as_str) {
        Some("unsupported") => return false,
        Some("automatic") => return true,
        _ => {}
    }
    if let Some(selected) = metadata.get("selected").and_then(Value::as_bool) {
        return selected;
    }
    metadata
        .get("selected-by-default")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::runtime::catalog::{Rules, apply};

    #[test]
    fn the_rules_decide_streams_and_columns() {
        let mut catalog = json!({"streams": [
            {"tap_stream_id": "public-users", "stream": "users", "table_name": "users",
             "schema": {"properties": {
                "id": {"type": ["integer"]},
                "password": {"type": ["string", "null"]},
                "seen": {"type": ["string", "null"], "format": "date-time"}}},
             "metadata": [
                {"breadcrumb": [], "metadata": {"inclusion": "available", "table-key-properties": ["id"]}},
                {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
                {"breadcrumb": ["properties", "password"], "metadata": {"inclusion": "available"}},
                {"breadcrumb": ["properties", "seen"], "metadata": {"inclusion": "available"}}]},
            {"tap_stream_id": "public-logs",
             "schema": {"properties": {"id": {"type": "integer"}}},
             "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}}]},
        ]});
        let rules = Rules {
            select: vec![
                "public-users.*".to_owned(),
                "!public-users.password".to_owned(),
            ],
            metadata: json!({"public-users": {"replication-method": "INCREMENTAL", "replication-key": "seen"}}),
            ..Rules::default()
        };
        apply(&mut catalog, &rules).unwrap();
        let streams = selected_streams(&catalog);
        assert_eq!(streams.len(), 1, "public-logs is not selected");
        let users = &streams[0];
        assert_eq!(users.tap_stream_id, "public-users");
        assert_eq!(users.stream.as_deref(), Some("users"));
        assert_eq!(users.key_properties, ["id"]);
        assert_eq!(users.replication_method.as_deref(), Some("INCREMENTAL"));
        assert_eq!(users.replication_key.as_deref(), Some("seen"));
        let names: Vec<&str> = users.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "seen"]);
        assert_eq!(users.columns[1].types, ["string", "null"]);
        assert_eq!(users.columns[1].format.as_deref(), Some("date-time"));
    }
}
