//! The tree the YAML writer walks, built straight from a `Serialize` value (the `k8s-openapi`
//! objects, `serde_json` values).
//!
//! It reads a value exactly as `serde_json::to_value` does (the same scalars, the same field
//! order, `None` as `null`, variants as one-key maps), so the written YAML is what writing the
//! `serde_json::Value` gave, without `serde_json`'s map (an `IndexMap` that hashes every key) or
//! an owned `String` per struct field name: the CronJobs of a 300-schedule project are most of
//! a build's allocations.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// A serialised value.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `null`: unit, `None`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number, already formatted as `serde_json` formats it.
    Number(String),
    /// A string.
    Str(String),
    /// Keys and values in serialisation order.
    Map(Vec<(Cow<'static, str>, Node)>),
    /// Items in order.
    Seq(Vec<Node>),
}

/// `value` as a [`Node`]; `None` when it cannot be one (a map key that is not a string or a
/// number, a failing `Serialize`): where `serde_json::to_value` fails.
pub fn to_node(value: &impl Serialize) -> Option<Node> {
    value.serialize(NodeSerializer).ok()
}

/// Why a value is not a [`Node`].
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

/// A number exactly as `serde_json` writes it.
fn number(value: impl Into<serde_json::Value>) -> Node {
    match value.into() {
        serde_json::Value::Number(number) => Node::Number(number.to_string()),
        _ => Node::Null,
    }
}

struct NodeSerializer;

/// A collection being serialised: items, or entries with the key waiting for its value.
pub struct Collect {
    items: Vec<Node>,
    entries: Vec<(Cow<'static, str>, Node)>,
    key: Option<Cow<'static, str>>,
    /// The enum variant wrapping the result (`{variant: …}`), as `serde_json` writes it.
    variant: Option<&'static str>,
}

impl Collect {
    fn new(variant: Option<&'static str>, capacity: usize) -> Self {
        Self {
            items: Vec::with_capacity(capacity),
            entries: Vec::new(),
            key: None,
            variant,
        }
    }

    fn wrap(variant: Option<&'static str>, node: Node) -> Node {
        match variant {
            Some(variant) => Node::Map(vec![(Cow::Borrowed(variant), node)]),
            None => node,
        }
    }

    fn seq(self) -> Node {
        Self::wrap(self.variant, Node::Seq(self.items))
    }

    fn map(self) -> Node {
        Self::wrap(self.variant, Node::Map(self.entries))
    }
}

impl ser::Serializer for NodeSerializer {
    type Ok = Node;
    type Error = Error;
    type SerializeSeq = Collect;
    type SerializeTuple = Collect;
    type SerializeTupleStruct = Collect;
    type SerializeTupleVariant = Collect;
    type SerializeMap = Collect;
    type SerializeStruct = Collect;
    type SerializeStructVariant = Collect;

    fn serialize_bool(self, value: bool) -> Result<Node, Error> {
        Ok(Node::Bool(value))
    }
    fn serialize_i8(self, value: i8) -> Result<Node, Error> {
        Ok(Node::Number(value.to_string()))
    }
    fn serialize_i16(self, value: i16) -> Result<Node, Error> {
        Ok(Node::Number(value.to_string()))
    }
    fn serialize_i32(self, value: i32) -> Result<Node, Error> {
        Ok(Node::Number(value.to_string()))
    }
    fn serialize_i64(self, value: i64) -> Result<Node, Error> {
        Ok(Node::Number(value.to_string()))
    }
    fn serialize_i128(self, value: i128) -> Result<Node, Error> {
        serde_json::to_value(value)
            .map(number)
            .map_err(|error| Error(error.to_string()))
    }
    fn serialize_u8(self, value: u8) -> Result<Node, Error> {
        Ok(Node::Number(value.to_string()))
    }
    fn serialize_u16(self, value: u16) -> Result<Node, Error> {
        Ok(Node::Number(value.to_string()))
    }
    fn serialize_u32(self, value: u32) -> Result<Node, Error> {
        Ok(Node::Number(value.to_string()))
    }
    fn serialize_u64(self, value: u64) -> Result<Node, Error> {
        Ok(Node::Number(value.to_string()))
    }
    fn serialize_u128(self, value: u128) -> Result<Node, Error> {
        serde_json::to_value(value)
            .map(number)
            .map_err(|error| Error(error.to_string()))
    }
    fn serialize_f32(self, value: f32) -> Result<Node, Error> {
        Ok(number(value))
    }
    fn serialize_f64(self, value: f64) -> Result<Node, Error> {
        Ok(number(value))
    }
    fn serialize_char(self, value: char) -> Result<Node, Error> {
        Ok(Node::Str(value.to_string()))
    }
    fn serialize_str(self, value: &str) -> Result<Node, Error> {
        Ok(Node::Str(value.to_owned()))
    }
    fn serialize_bytes(self, value: &[u8]) -> Result<Node, Error> {
        Ok(Node::Seq(
            value
                .iter()
                .map(|byte| Node::Number(byte.to_string()))
                .collect(),
        ))
    }
    fn serialize_none(self) -> Result<Node, Error> {
        Ok(Node::Null)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Node, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Node, Error> {
        Ok(Node::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Node, Error> {
        Ok(Node::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Node, Error> {
        Ok(Node::Str(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Node, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Node, Error> {
        Ok(Collect::wrap(Some(variant), value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Collect, Error> {
        Ok(Collect::new(None, len.unwrap_or(0)))
    }
    fn serialize_tuple(self, len: usize) -> Result<Collect, Error> {
        Ok(Collect::new(None, len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Collect, Error> {
        Ok(Collect::new(None, len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Collect, Error> {
        Ok(Collect::new(Some(variant), len))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Collect, Error> {
        Ok(Collect::new(None, 0))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Collect, Error> {
        Ok(Collect::new(None, 0))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Collect, Error> {
        Ok(Collect::new(Some(variant), 0))
    }
}

impl ser::SerializeSeq for Collect {
    type Ok = Node;
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.items.push(value.serialize(NodeSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Node, Error> {
        Ok(self.seq())
    }
}

impl ser::SerializeTuple for Collect {
    type Ok = Node;
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Node, Error> {
        Ok(self.seq())
    }
}

impl ser::SerializeTupleStruct for Collect {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Node, Error> {
        Ok(self.seq())
    }
}

impl ser::SerializeTupleVariant for Collect {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Node, Error> {
        Ok(self.seq())
    }
}

impl Collect {
    /// Insert as `serde_json`'s map does: a repeated key keeps its place and takes the new
    /// value.
    fn insert(&mut self, key: Cow<'static, str>, value: Node) {
        if let Some(entry) = self.entries.iter_mut().find(|(known, _)| *known == key) {
            entry.1 = value;
        } else {
            self.entries.push((key, value));
        }
    }
}

impl ser::SerializeMap for Collect {
    type Ok = Node;
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(Cow::Owned(key.serialize(KeySerializer)?));
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error("a map value without its key".to_owned()))?;
        let value = value.serialize(NodeSerializer)?;
        self.insert(key, value);
        Ok(())
    }
    fn end(self) -> Result<Node, Error> {
        Ok(self.map())
    }
}

impl ser::SerializeStruct for Collect {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let value = value.serialize(NodeSerializer)?;
        self.insert(Cow::Borrowed(key), value);
        Ok(())
    }
    fn end(self) -> Result<Node, Error> {
        Ok(self.map())
    }
}

impl ser::SerializeStructVariant for Collect {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<Node, Error> {
        Ok(self.map())
    }
}

/// A map key: strings, and numbers, booleans and chars as their text, as `serde_json` takes
/// them; anything else is an error.
struct KeySerializer;

fn not_a_key() -> Error {
    Error("a map key must be a string".to_owned())
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    fn serialize_bool(self, value: bool) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_i8(self, value: i8) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_i16(self, value: i16) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_i32(self, value: i32) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_i64(self, value: i64) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_i128(self, value: i128) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_u8(self, value: u8) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_u16(self, value: u16) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_u32(self, value: u32) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_u64(self, value: u64) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_u128(self, value: u128) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_f32(self, _value: f32) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_f64(self, _value: f64) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_char(self, value: char) -> Result<String, Error> {
        Ok(value.to_string())
    }
    fn serialize_str(self, value: &str) -> Result<String, Error> {
        Ok(value.to_owned())
    }
    fn serialize_bytes(self, _value: &[u8]) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _value: &T) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_key())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_key())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_key())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::CronJob;
    use serde_json::json;

    use super::{Node, to_node};

    /// The tree of a value, written back as JSON: what `serde_json::to_value` gives.
    fn json(node: &Node) -> serde_json::Value {
        match node {
            Node::Null => serde_json::Value::Null,
            Node::Bool(flag) => (*flag).into(),
            Node::Number(text) => serde_json::from_str(text).unwrap(),
            Node::Str(text) => text.clone().into(),
            Node::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| (key.to_string(), json(value)))
                    .collect(),
            ),
            Node::Seq(items) => items.iter().map(json).collect(),
        }
    }

    #[test]
    fn reads_values_as_serde_json_does() {
        let value = json!({
            "b": [1, -2, 2.5, 1e300, true, null, "x", {}, []],
            "a": {"z": "1", "y": {"k": [["nested"]]}},
        });
        let node = to_node(&value).unwrap();
        assert_eq!(json(&node), value);
        // Field order is kept (serde_json's `preserve_order`), not sorted.
        let Node::Map(entries) = &node else {
            panic!("{node:?}")
        };
        assert_eq!(entries[0].0, "b");
    }

    #[test]
    fn reads_kubernetes_objects_as_serde_json_does() {
        let cronjob: CronJob = serde_json::from_value(json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "n", "labels": {"b": "1", "a": "2"}},
            "spec": {
                "schedule": "0 2 * * *",
                "suspend": true,
                "startingDeadlineSeconds": 3600,
                "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": {
                    "containers": [{"name": "c", "resources": {"limits": {"memory": "512Mi"}}}],
                }}}},
            },
        }))
        .unwrap();
        assert_eq!(
            json(&to_node(&cronjob).unwrap()),
            serde_json::to_value(&cronjob).unwrap()
        );
    }
}
