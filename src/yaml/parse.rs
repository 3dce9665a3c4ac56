//! Build a [`Node`] tree from parser events.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle as ParserStyle, Tag};

use super::comment_overlap;
use super::node::{Mapping, Node, ScalarStyle, Value};
use super::reader;
use super::scalar::resolve_plain;
use crate::diagnostics::{Diagnostic, FileId, SourceFile, Span, codes};

/// Deeper nesting than this is refused: no real project comes close, and the limit keeps every
/// recursive walk over the tree far from the stack's end.
const MAX_DEPTH: usize = 200;
/// Alias expansion beyond this many nodes is refused (the "billion laughs" document).
const MAX_ALIAS_NODES: usize = 1_000_000;

/// The result of reading one YAML file.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The document, or `None` when the file holds no document (empty, or only comments) or
    /// could not be read.
    pub root: Option<Node>,
    /// Problems found; when one is an error other than a duplicate key, `root` is `None`.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parse `source` (registered as `file`) into a spanned tree.
#[must_use]
pub fn parse(file: FileId, source: &SourceFile) -> Parsed {
    let mut builder = Builder::new(file, source);
    match builder.run() {
        Ok(root) => Parsed {
            root,
            diagnostics: builder.diagnostics,
        },
        Err(fatal) => {
            let mut diagnostics = builder.diagnostics;
            diagnostics.push(*fatal);
            Parsed {
                root: None,
                diagnostics,
            }
        }
    }
}

enum Frame {
    Sequence {
        items: Vec<Node>,
        start: usize,
        anchor: usize,
    },
    Mapping {
        entries: Mapping,
        key: Option<Node>,
        merges: Vec<Node>,
        start: usize,
        anchor: usize,
    },
}

struct Builder<'a> {
    file: FileId,
    source: &'a SourceFile,
    ascii: bool,
    stack: Vec<Frame>,
    anchors: BTreeMap<usize, Node>,
    alias_nodes: usize,
    root: Option<Node>,
    documents: usize,
    diagnostics: Vec<Diagnostic>,
}

type Fatal = Box<Diagnostic>;

impl<'a> Builder<'a> {
    fn new(file: FileId, source: &'a SourceFile) -> Self {
        Self {
            file,
            source,
            ascii: source.contents().is_ascii(),
            stack: Vec::new(),
            anchors: BTreeMap::new(),
            alias_nodes: 0,
            root: None,
            documents: 0,
            diagnostics: Vec::new(),
        }
    }

    fn offset(&self, marker: Marker) -> usize {
        if self.ascii {
            marker.index().min(self.source.contents().len())
        } else {
            // The parser counts a leading byte order mark in the index but not in the column.
            let bom = marker.line() == 1 && self.source.contents().starts_with('\u{FEFF}');
            self.source
                .offset_of(marker.line(), marker.col() + usize::from(bom))
        }
    }

    fn span(&self, start: Marker, end: Marker) -> Span {
        Span::new(self.file, self.offset(start), self.offset(end))
    }

    fn run(&mut self) -> Result<Option<Node>, Fatal> {
        self.check_reader()?;
        let mut parser = Parser::new_from_str(self.source.contents());
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|error| {
                let at = self.offset(*error.marker());
                Box::new(
                    Diagnostic::new(&codes::YAML_SYNTAX, format!("invalid YAML: {}", error.info()))
                        .at(Span::new(self.file, at, at), "here")
                        .help("fix the YAML syntax; a YAML linter or your editor's YAML mode shows the structure"),
                )
            })?;
            let span = self.span(span.start, span.end);
            self.event(event, span)?;
        }
        Ok(self.root.take())
    }

    /// What ruamel.yaml refuses before parsing (see [`reader`]).
    fn check_reader(&self) -> Result<(), Fatal> {
        let text = self.source.contents();
        if let Some((at, character)) = reader::unprintable(text) {
            let span = Span::new(self.file, at, at + character.len_utf8());
            return Err(Box::new(
                Diagnostic::new(
                    &codes::YAML_SYNTAX,
                    format!(
                        "invalid YAML: the character U+{:04X} is not allowed in a YAML file",
                        u32::from(character)
                    ),
                )
                .at(span, "here")
                .help("Meltano's YAML reader refuses control characters anywhere in the file, comments included: delete it, or write it as an escape (`\\u0007`) inside double quotes"),
            ));
        }
        if let Some((start, end, version)) = reader::other_yaml_version(text) {
            return Err(Box::new(
                Diagnostic::new(
                    &codes::YAML_UNSUPPORTED,
                    format!("unsupported YAML: the `%YAML {version}` directive"),
                )
                .at(Span::new(self.file, start, end), "here")
                .help("Meltano would read this file by YAML 1.1's rules (`yes` is true, `017` is 15) and meltc reads YAML 1.2 only: remove the directive (1.2 is the default)"),
            ));
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Fatal> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 && self.root.is_some() {
                    return Err(Box::new(
                        Diagnostic::new(&codes::YAML_MULTIPLE_DOCUMENTS, "more than one YAML document in one file")
                            .at(span, "a second document starts here")
                            .help("Meltano reads exactly one document per file: remove the `---` separator and merge the documents"),
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let node = self.scalar(&text, style, tag.as_deref(), span)?;
                self.finish(node, anchor)?;
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id).cloned() else {
                    return Err(self.unsupported(span, "alias to an unknown anchor"));
                };
                self.alias_nodes += node.count();
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(
                        self.unsupported(span, "aliases expand to more than a million nodes")
                    );
                }
                self.finish(node, 0)?;
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "seq", span)?;
                self.push(
                    Frame::Sequence {
                        items: Vec::new(),
                        start: span.start,
                        anchor,
                    },
                    span,
                )?;
            }
            Event::MappingStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "map", span)?;
                let frame = Frame::Mapping {
                    entries: Mapping::new(),
                    key: None,
                    merges: Vec::new(),
                    start: span.start,
                    anchor,
                };
                self.push(frame, span)?;
            }
            Event::SequenceEnd => {
                if let Some(Frame::Sequence {
                    items,
                    start,
                    anchor,
                }) = self.stack.pop()
                {
                    let node = Node::synthetic(
                        Value::Sequence(items),
                        Span::new(self.file, start, span.end),
                    );
                    self.finish(node, anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Mapping {
                    mut entries,
                    merges,
                    start,
                    anchor,
                    ..
                }) = self.stack.pop()
                {
                    apply_merges(&mut entries, merges);
                    let node = Node::synthetic(
                        Value::Mapping(entries),
                        Span::new(self.file, start, span.end),
                    );
                    self.finish(node, anchor)?;
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, span: Span) -> Result<(), Fatal> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.unsupported(span, "nesting deeper than 200 levels"));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn unsupported(&self, span: Span, what: &str) -> Fatal {
        Box::new(
            Diagnostic::new(
                &codes::YAML_UNSUPPORTED,
                format!("unsupported YAML: {what}"),
            )
            .at(span, "here")
            .help("write the value out plainly; Meltano's loader cannot use this either"),
        )
    }

    fn check_collection_tag(
        &self,
        tag: Option<&Tag>,
        expected: &str,
        span: Span,
    ) -> Result<(), Fatal> {
        match tag {
            None => Ok(()),
            Some(tag) if tag.is_yaml_core_schema() && tag.suffix == expected => Ok(()),
            Some(tag) => Err(self.unsupported(span, &format!("the tag `{tag}`"))),
        }
    }

    fn scalar(
        &self,
        text: &str,
        style: ParserStyle,
        tag: Option<&Tag>,
        span: Span,
    ) -> Result<Node, Fatal> {
        let plain = matches!(style, ParserStyle::Plain);
        let value = match tag {
            None if plain => resolve_plain(text),
            None => Value::String(text.to_owned()),
            Some(tag) if tag.is_yaml_core_schema() => self.tagged(text, &tag.suffix, span)?,
            Some(tag) => return Err(self.unsupported(span, &format!("the tag `{tag}`"))),
        };
        let style = if plain && tag.is_none() {
            ScalarStyle::Plain
        } else {
            ScalarStyle::Quoted
        };
        Ok(Node { value, span, style })
    }

    fn tagged(&self, text: &str, suffix: &str, span: Span) -> Result<Value, Fatal> {
        let resolved = resolve_plain(text);
        let ok = match (suffix, &resolved) {
            ("str", _) => return Ok(Value::String(text.to_owned())),
            ("null", Value::Null) | ("bool", Value::Bool(_)) | ("int", Value::Int(_)) => true,
            ("float", Value::Int(value)) => {
                #[allow(clippy::cast_precision_loss)]
                return Ok(Value::Float(*value as f64));
            }
            ("float", Value::Float(_)) => true,
            _ => false,
        };
        if ok {
            Ok(resolved)
        } else {
            Err(self.unsupported(span, &format!("`{text}` is not a valid !!{suffix}")))
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), Fatal> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping {
                key: key @ None, ..
            }) => {
                if matches!(node.value, Value::Sequence(_) | Value::Mapping(_)) {
                    return Err(
                        self.unsupported(node.span, "a list or mapping used as a mapping key")
                    );
                }
                *key = Some(node);
            }
            Some(Frame::Mapping {
                entries,
                key,
                merges,
                start,
                ..
            }) => {
                let Some(key) = key.take() else { return Ok(()) };
                let text = self.source.contents();
                let block = text.as_bytes().get(*start) != Some(&b'{');
                if block && node.style == ScalarStyle::Plain && !node.span.is_empty() {
                    let (key_end, value) = (key.span.end, node.span);
                    if let Some(at) =
                        comment_overlap::comment_before_value(text, key_end, value.start, value.end)
                    {
                        let end = text[at..].find(['\r', '\n']).map_or(text.len(), |n| at + n);
                        self.diagnostics
                            .push(comment_overlap_error(Span::new(self.file, at, end), &key));
                    }
                }
                let text = key.scalar_text().unwrap_or_default();
                let text = if key.is_null() {
                    "null".to_owned()
                } else {
                    text
                };
                if text == "<<" && key.style == ScalarStyle::Plain {
                    merges.push(node);
                } else if let Some((first, _)) = entries.get(&text) {
                    let first = first.span;
                    self.diagnostics.push(
                        Diagnostic::new(
                            &codes::YAML_DUPLICATE_KEY,
                            format!("duplicate key `{text}`"),
                        )
                        .at(key.span, "defined again here")
                        .also(first, "first defined here")
                        .help("Meltano refuses duplicate keys: keep one of them"),
                    );
                } else {
                    entries.insert(text, (key, node));
                }
            }
        }
        Ok(())
    }
}

/// The error for [`comment_overlap`]'s shape.
fn comment_overlap_error(comment: Span, key: &Node) -> Diagnostic {
    let key = key.scalar_text().unwrap_or_default();
    Diagnostic::new(
        &codes::YAML_UNSUPPORTED,
        format!(
            "unsupported YAML: Meltano's YAML reader fails on a comment after `{key}:` when the value follows on the next line and an empty line after it"
        ),
    )
    .at(comment, "this comment")
    .help(format!(
        "move the comment onto its own line above `{key}:`, or write the value on the key's line (ruamel.yaml stops with \"overlap in comment\")"
    ))
}

/// YAML merge keys (`<<: *base` or `<<: [*a, *b]`): entries of the merged mappings are added
/// where the mapping does not set the key itself; with several, the earlier one wins.
fn apply_merges(entries: &mut Mapping, merges: Vec<Node>) {
    for merge in merges {
        let sources = match merge.value {
            Value::Mapping(mapping) => vec![mapping],
            Value::Sequence(items) => items
                .into_iter()
                .filter_map(|item| match item.value {
                    Value::Mapping(mapping) => Some(mapping),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for source in sources {
            for (key, entry) in source {
                entries.entry(key).or_insert(entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Parsed {
        parse(FileId(0), &SourceFile::new("t.yml", "t.yml", text))
    }

    fn codes_of(parsed: &Parsed) -> Vec<&'static str> {
        parsed.diagnostics.iter().map(|d| d.code.name).collect()
    }

    #[test]
    fn spans_point_at_scalars() {
        let text = "plugins:\n  extractors:\n  - name: tap-x\n";
        let root = load(text).root.unwrap();
        let name = root.at_pointer("/plugins/extractors/0/name").0;
        assert_eq!(name.as_str(), Some("tap-x"));
        assert_eq!(&text[name.span.start..name.span.end], "tap-x");
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_places() {
        let parsed = load("a: 1\nb: 2\na: 3\n");
        assert_eq!(codes_of(&parsed), ["meltc::yaml::duplicate-key"]);
        let diagnostic = &parsed.diagnostics[0];
        assert_eq!(diagnostic.primary.as_ref().unwrap().span.start, 10);
        assert_eq!(diagnostic.secondary[0].span.start, 0);
        assert_eq!(parsed.root.unwrap().get("a").unwrap().value, Value::Int(1));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let root = load("base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\nlist: [*b]\n")
            .root
            .unwrap();
        let child = root.get("child").unwrap();
        assert_eq!(child.get("x").unwrap().value, Value::Int(1));
        assert_eq!(child.get("y").unwrap().value, Value::Int(3));
        assert_eq!(root.at_pointer("/list/0/y").0.value, Value::Int(2));
    }

    #[test]
    fn errors_are_located_and_fatal() {
        let parsed = load("a: [1, 2\nb: 3\n");
        assert_eq!(codes_of(&parsed), ["meltc::yaml::syntax"]);
        assert!(parsed.root.is_none());
        assert_eq!(
            codes_of(&load("a: 1\n---\nb: 2\n")),
            ["meltc::yaml::multiple-documents"]
        );
        assert_eq!(
            codes_of(&load("a: !custom 1\n")),
            ["meltc::yaml::unsupported"]
        );
        // Deep nesting is refused by the parser's own limit or ours: either way one located error.
        let deep = load(&"[".repeat(500));
        assert!(
            deep.root.is_none() && deep.diagnostics.len() == 1 && deep.diagnostics[0].is_error()
        );
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert_eq!(codes_of(&load(bomb)), ["meltc::yaml::unsupported"]);
    }

    #[test]
    fn empty_documents_have_no_root() {
        assert!(load("").root.is_none());
        assert!(load("# only a comment\n").root.is_none());
        assert!(load("---\n").root.unwrap().is_null());
    }

    #[test]
    fn tags_and_styles() {
        let root = load("a: !!str 017\nb: '017'\nc: 017\nd: !!float 1\n")
            .root
            .unwrap();
        assert_eq!(root.get("a").unwrap().value, Value::String("017".into()));
        assert_eq!(root.get("b").unwrap().style, ScalarStyle::Quoted);
        assert_eq!(root.get("c").unwrap().value, Value::Int(17));
        assert_eq!(root.get("c").unwrap().style, ScalarStyle::Plain);
        assert_eq!(root.get("d").unwrap().value, Value::Float(1.0));
    }

    #[test]
    fn flow_collections_indented_less_than_their_key_keep_exact_spans() {
        let text = "a:\n  tables: [\n  {\n\t\"name\":  \"orders\",\nx: 1 }\n]\n";
        let root = load(text).root.unwrap();
        let name = root.at_pointer("/a/tables/0/name").0;
        assert_eq!(&text[name.span.start..name.span.end], "\"orders\"");
        let x = root.at_pointer("/a/tables/0/x").0;
        assert_eq!(&text[x.span.start..x.span.end], "1");
        let tables = root.at_pointer("/a/tables").0;
        assert_eq!(
            &text[tables.span.start..tables.span.end],
            "[\n  {\n\t\"name\":  \"orders\",\nx: 1 }\n]"
        );
    }

    #[test]
    fn tabs_outside_flow_collections_are_errors_at_the_tab() {
        let parsed = load("a:\n  b: 1\t# c\n");
        assert_eq!(codes_of(&parsed), ["meltc::yaml::syntax"]);
        let span = parsed.diagnostics[0].primary.as_ref().unwrap().span;
        assert_eq!(span.start, 9);
    }

    #[test]
    fn a_leading_byte_order_mark_does_not_shift_spans() {
        let text = "\u{FEFF}name: tap-\u{e4}\n";
        let root = load(text).root.unwrap();
        let (key, value) = root.entry("name").unwrap();
        assert_eq!(&text[key.span.start..key.span.end], "name");
        assert_eq!(&text[value.span.start..value.span.end], "tap-\u{e4}");
    }

    #[test]
    fn what_ruamel_refuses_before_parsing() {
        let parsed = load("a: 1 # \u{1b}[0m\n");
        assert_eq!(codes_of(&parsed), ["meltc::yaml::syntax"]);
        assert_eq!(
            parsed.diagnostics[0].primary.as_ref().unwrap().span.start,
            7
        );
        let parsed = load("%YAML 1.1\n---\na: yes\n");
        assert_eq!(codes_of(&parsed), ["meltc::yaml::unsupported"]);
        let parsed = load("a: # c\n  b\n\nc: 1\n");
        assert_eq!(codes_of(&parsed), ["meltc::yaml::unsupported"]);
        assert_eq!(
            parsed.diagnostics[0].primary.as_ref().unwrap().span.start,
            3
        );
    }

    #[test]
    fn non_ascii_offsets_are_bytes() {
        let text = "é: ü\nname: tap-ä\n";
        let root = load(text).root.unwrap();
        let name = root.get("name").unwrap();
        assert_eq!(&text[name.span.start..name.span.end], "tap-ä");
    }
}
