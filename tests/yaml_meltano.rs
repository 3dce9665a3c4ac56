//! meltc's YAML reader against Meltano's: every document of [`CASES`] is read by ruamel.yaml's
//! round-trip loader, through Meltano's own `meltano.core.yaml` (tests/support/meltano_yaml.py,
//! in the test tools' Meltano), and by `meltc::yaml::parse`.
//!
//! Each row says what both must do, and the test checks both against it: Meltano's reader
//! (the ground truth, never assumed) and meltc. [`Expect::Same`]: both read the document, to the
//! same value, and every scalar's span in meltc's tree covers exactly its text.
//! [`Expect::Reject`]: both refuse it, and meltc's error is at that line and column.
//! [`Expect::Refused`]: a listed departure (README "Why saphyr-parser for YAML"): Meltano reads
//! it, meltc refuses it with a located error.
//!
//! The rows are the leniencies of ruamel.yaml that issue 15 (class 1) found in real projects,
//! every neighbouring shape of them, and the shapes ruamel.yaml refuses although YAML 1.2
//! allows them; vendor/saphyr-parser/MELTC.md says how meltc's parser follows each.

use meltc::diagnostics::{FileId, SourceFile};
use meltc::yaml::{Node, ScalarStyle, Value};
use serde_json::Value as Json;

use crate::support::tool;

/// What a row expects of Meltano's reader and of meltc.
enum Expect {
    /// Both read the document, to the same value.
    Same,
    /// Both refuse it; meltc's error is at this line and column.
    Reject(usize, usize),
    /// Meltano reads it; meltc refuses it at this line and column, for this reason.
    Refused(usize, usize, &'static str),
}

use Expect::{Refused, Reject, Same};

const BOM_INSIDE: &str = "a byte order mark inside a document: ruamel.yaml keeps it as a character of the value, the parser refuses it";
const YAML_1_1: &str = "`%YAML 1.1` makes ruamel.yaml read the file by YAML 1.1's rules (`yes` is true, `017` is 15); meltc reads YAML 1.2 only";

/// (name, document, expectation).
const CASES: &[(&str, &str, Expect)] = &[
    // Flow collections whose lines are indented less than the key that holds them: ruamel.yaml ignores indentation inside `[ ]` and `{ }` (issue 15, class 1).
    (
        "issue-sample",
        "plugins:\n  extractors:\n  - name: tap-files\n    namespace: tap_files\n    config:\n      tables: [\n      {\n        \"name\":  \"orders\",\n        \"path\": \"orders.csv\"\n      }\n    ]\n",
        Same,
    ),
    ("flow-map-col0", "a:\n  b: {\nc: 1,\nd: 2\n}\n", Same),
    ("flow-seq-top-col0", "a: [\n1,\n2\n]\n", Same),
    (
        "flow-seq-in-seq-item",
        "items:\n- name: x\n  select: [\n  a,\n  b\n  ]\n",
        Same,
    ),
    ("flow-close-at-key-col", "a:\n  b: [1,\n    2\n  ]\n", Same),
    ("flow-close-col0", "a:\n  b: [1,\n    2\n]\nc: 3\n", Same),
    (
        "flow-plain-multiline-less",
        "a:\n  b: [foo\nbar, baz]\n",
        Same,
    ),
    (
        "flow-dquoted-multiline-less",
        "a:\n  b: [\"foo\nbar\", baz]\n",
        Same,
    ),
    (
        "flow-squoted-multiline-less",
        "a:\n  b: ['foo\nbar', baz]\n",
        Same,
    ),
    ("flow-after-dash-less", "items:\n- [\na, b\n]\n", Same),
    (
        "flow-nested-deep",
        "a:\n  b:\n    c: [\n{\"x\": [\n1, 2\n],\n\"y\": {\"z\":\n3}\n}\n]\nd: 1\n",
        Same,
    ),
    (
        "flow-json-blob",
        "a:\n  config: {\"streams\": [\n  {\"name\": \"s\", \"keys\": [\"id\"]}\n  ]}\n",
        Same,
    ),
    ("flow-value-next-line-less", "a:\n  b: {x:\n1}\n", Same),
    (
        "flow-comment-lines-less",
        "a:\n  b: [\n# c\n1, # one\n2\n]\n",
        Same,
    ),
    ("flow-anchor-less", "a:\n  b: &x [\n1]\n  c: *x\n", Same),
    ("flow-empty-lines", "a:\n  b: [\n\n1,\n\n]\n", Same),
    (
        "flow-in-seq-of-maps-closing-less",
        "plugins:\n  loaders:\n  - name: t\n    config:\n      x: [\n        1\n      ]\n      y: 2\n",
        Same,
    ),
    (
        "flow-in-seq-of-maps-closing-at-dash",
        "plugins:\n  loaders:\n  - name: t\n    config:\n      x: [\n        1\n  ]\n  - name: u\n",
        Same,
    ),
    ("flow-map-in-block-seq-less", "- {\na: 1\n}\n", Same),
    ("flow-seq-top-level-col0", "[\n1,\n2\n]\n", Same),
    ("flow-map-top-level", "{\na: 1,\nb: [\n2]\n}\n", Same),
    (
        "flow-then-block-key-same-line",
        "a: [1]\nb: {c: [\n]}\nd: 1\n",
        Same,
    ),
    (
        "flow-seq-less-then-block-continues",
        "a:\n  b: [\n1]\n  c: 2\nd: 3\n",
        Same,
    ),
    (
        "flow-map-key-col0-value",
        "x:\n  a: {\nb: 1, c: [\n2]}\n",
        Same,
    ),
    (
        "flow-nested-close-less",
        "a:\n  b:\n    - {c: [\n  1\n ]}\n",
        Same,
    ),
    (
        "flow-quoted-key-less",
        "a:\n  b: {\n\"c\": \"d\",\n'e': 'f'}\n",
        Same,
    ),
    ("flow-alias-less", "x: &x 1\na:\n  b: [\n*x]\n", Same),
    ("flow-anchor-col0", "a:\n  b: [\n&y 1, *y]\n", Same),
    (
        "block-after-flow-less-then-seq",
        "a:\n  b: [\n1]\n  c:\n  - 2\n",
        Same,
    ),
    ("seq-flow-item-less", "a:\n  - [\n1]\n  - 2\n", Same),
    (
        "seq-flow-item-col-of-dash",
        "a:\n  - [\n  1]\n  - 2\n",
        Same,
    ),
    (
        "flow-in-flow-less-plain-multiline",
        "a:\n  b: [[x\ny]]\n",
        Same,
    ),
    (
        "deep-dedent-close",
        "a:\n  b:\n    c:\n      d: [\n        1\n]\ne: 2\n",
        Same,
    ),
    ("plain-multiline-flow-in-block-seq", "- [a\n  b, c]\n", Same),
    ("crlf", "a: 1\r\nb:\r\n  c: [1,\r\n2]\r\n", Same),
    ("crlf-flow-less", "a:\r\n  b: [\r\n1,\r\n\t2\r\n]\r\n", Same),
    ("indented-doc-marker-in-flow", "a: [\n ---\n]\n", Same),
    (
        "flow-seq-less-then-bad-block",
        "a:\n  b: [\n1]\n c: 2\n",
        Reject(4, 2),
    ),
    ("doc-marker-in-flow", "a: [\n---\n]\n", Reject(2, 1)),
    ("doc-end-in-flow", "a: [\n...\n]\n", Reject(2, 1)),
    ("percent-in-flow-col0", "a: [\n%x\n]\n", Reject(2, 1)),
    ("flow-dash-entry", "a: [\n- 1\n]\n", Reject(2, 1)),
    ("multi-doc-flow", "a: [\n1]\n---\nb: 2\n", Reject(3, 1)),
    // Tabs inside flow collections: whitespace anywhere there, though a tab still ends a plain scalar.
    (
        "issue-with-tabs",
        "plugins:\n  extractors:\n  - name: tap-files\n    config:\n      tables: [\n\t{\n\t\t\"name\": \"orders\",\n\t\t\"path\": \"orders.csv\"\n\t}\n      ]\n",
        Same,
    ),
    ("tab-indent-in-flow", "a: [\n\t1,\n\t2\n]\n", Same),
    (
        "tab-indent-in-flow-nested",
        "a:\n  b: {\n\t\"x\": 1,\n\t\"y\": [\n\t\t2\n\t]\n  }\n",
        Same,
    ),
    ("tab-after-colon-in-flow", "a: {b:\t1}\n", Same),
    ("tab-after-comma-in-flow", "a: [1,\t2]\n", Same),
    ("tab-before-close", "a: [1\t]\n", Same),
    ("tab-only-in-flow-line", "a: [\n1,\n\t\n2]\n", Same),
    ("tab-before-comment-in-flow", "a: [1,\t# c\n2]\n", Same),
    ("tab-after-open", "a: [\t1]\n", Same),
    ("tab-in-flow-after-key-colon-nl", "a: {b:\n\t1}\n", Same),
    ("tab-before-dash-in-flow", "a: [\n\t-1\n]\n", Same),
    ("squoted-trailing-tab-flow", "a: ['b'\t]\n", Same),
    ("plain-tab-end-in-flow", "a: [x\t, y]\n", Same),
    ("tab-after-inner-close-in-flow", "a: [[1]\t, 2]\n", Same),
    ("flow-close-tab-eol", "a: [\n1\n\t]\n", Same),
    ("flow-map-tab-before-colon", "a: {b\t: 1}\n", Same),
    ("flow-quoted-tab-before-colon", "a: {\"b\"\t: 1}\n", Same),
    ("flow-question-tab", "a: {?\tb: 1}\n", Same),
    ("flow-question-space-tab", "a: {? \tb: 1}\n", Same),
    (
        "flow-multiline-dquoted-less-with-tabs",
        "a:\n  b: [\"x\n\t\ty\"]\n",
        Same,
    ),
    (
        "plain-tab-in-flow-between-words",
        "a: [x\ty]\n",
        Reject(1, 7),
    ),
    ("plain-space-tab-in-flow", "a: [x \ty]\n", Reject(1, 8)),
    (
        "flow-plain-multiline-tab-less",
        "a:\n  b: [x\n\ty]\n",
        Reject(3, 2),
    ),
    // Tabs anywhere else: ruamel.yaml refuses them outside quotes, block scalars and comments.
    ("tab-before-flow-start", "a:\t[1]\n", Reject(1, 3)),
    ("tab-before-flow-map-start", "a:\t{b: 1}\n", Reject(1, 3)),
    ("tab-after-colon-block", "a:\tb\n", Reject(1, 3)),
    ("tab-before-comment-block", "a: b\t# c\n", Reject(1, 5)),
    ("tab-trailing-block", "a: b\t\n", Reject(1, 5)),
    ("tab-after-dash", "-\tx\n", Reject(1, 2)),
    ("tab-indent-block", "a:\n\tb: 1\n", Reject(2, 1)),
    ("tab-after-colon-eol", "a:\t\n  b: 1\n", Reject(1, 3)),
    ("tab-blank-line", "a: 1\n\t\nb: 2\n", Reject(2, 1)),
    ("tab-in-plain", "a: x\ty\n", Reject(1, 5)),
    ("tab-between-key-and-colon", "a\t: b\n", Reject(1, 2)),
    ("key-with-tab-inside", "a\tb: 1\n", Reject(1, 2)),
    ("tab-after-colon-then-quoted", "a:\t\"b\"\n", Reject(1, 3)),
    ("tab-space-after-colon", "a: \tb\n", Reject(1, 4)),
    ("tab-comment-line", "a: 1\n\t# c\nb: 2\n", Reject(2, 1)),
    ("tab-alias", "a: &x 1\nb:\t*x\n", Reject(2, 3)),
    ("tab-leading-block-value-line", "a:\n  \tb\n", Reject(2, 3)),
    ("tab-after-question", "?\ta\n:\tb\n", Reject(1, 2)),
    ("tab-before-flow-in-seq", "-\t[1, 2]\n", Reject(1, 2)),
    ("dquoted-trailing-tab", "a: \"b\"\t\n", Reject(1, 7)),
    ("squoted-space-tab-comment", "a: 'x'  \t# c\n", Reject(1, 9)),
    ("anchor-tab", "a: &x\t1\n", Reject(1, 6)),
    ("anchor-flow-tab", "a: &x\t[1]\n", Reject(1, 6)),
    ("tag-tab", "a: !!str\t1\n", Reject(1, 4)),
    ("tag-tab-in-flow", "a: [!!str\t]\n", Reject(1, 5)),
    ("tag-before-close-in-flow", "a: [!!str]\n", Reject(1, 5)),
    (
        "tag-before-close-in-flow-map",
        "a: {b: !!str}\n",
        Reject(1, 8),
    ),
    ("doc-start-tab", "---\t{a: 1}\n", Reject(1, 4)),
    ("literal-tab-header", "a: |\t\n  x\n", Reject(1, 5)),
    ("literal-tab-indent", "a: |\n\tx\n", Reject(1, 4)),
    ("literal-tab-after-indent", "a: |\n  x\n\ty\n", Reject(3, 1)),
    (
        "literal-tab-blank-trailing",
        "a: |\n  x\n\t\nb: 1\n",
        Reject(3, 1),
    ),
    ("tab-in-literal", "a: |\n  x\ty\n", Same),
    ("comment-tab-inside", "a: 1 # x\ty\n", Same),
    ("dquoted-tab-content", "a: \"x\ty\"\n", Same),
    ("squoted-tab-content", "a: 'x\ty'\n", Same),
    ("tab-in-dquoted-continuation", "a: \"x\n\ty\"\n", Same),
    // Quoted scalars: continuation lines at any indentation.
    ("dquoted-continuation-col0", "a:\n  b: \"foo\nbar\"\n", Same),
    ("squoted-continuation-col0", "a:\n  b: 'foo\nbar'\n", Same),
    (
        "dquoted-continuation-less",
        "a:\n  b:\n    c: \"foo\n  bar\"\n",
        Same,
    ),
    ("dquoted-top-col0", "a: \"foo\nbar\"\n", Same),
    (
        "dquoted-escaped-newline-less",
        "a:\n  b: \"x\\\ny\"\n",
        Same,
    ),
    ("squoted-blank-line-less", "a:\n  b: 'x\n\ny'\n", Same),
    (
        "dquoted-continuation-looks-like-key",
        "a:\n  b: \"x\nc: d\"\n",
        Same,
    ),
    ("dquoted-continuation-dash", "a:\n  - \"x\n- y\"\n", Same),
    (
        "quoted-less-then-block-continues",
        "a:\n  b: \"x\ny\"\n  c: 1\nd: 2\n",
        Same,
    ),
    (
        "quoted-less-then-bad-indent",
        "a:\n  b: \"x\ny\"\n c: 1\n",
        Reject(4, 2),
    ),
    (
        "dquoted-continuation-doc-marker",
        "a: \"foo\n---\nbar\"\n",
        Reject(1, 4),
    ),
    (
        "dquoted-key-continuation-block",
        "\"a\nb\": 1\n",
        Reject(2, 3),
    ),
    (
        "multiline-dquoted-key-flow",
        "a: {\"b\nc\": 1}\n",
        Reject(2, 3),
    ),
    // Keys, `:`, `?` and `-` inside flow collections.
    ("flow-key-less", "a:\n  b: {\nx\n: 1}\n", Reject(4, 1)),
    ("multiline-simple-key-flow", "a: {b\nc: 1}\n", Reject(2, 2)),
    ("flow-key-newline-colon", "a: [b\n: 1]\n", Reject(2, 1)),
    (
        "flow-json-key-newline-colon",
        "a: {\"b\"\n: 1}\n",
        Reject(2, 1),
    ),
    ("flow-key-anchor-newline", "a: {&x b\n: 1}\n", Reject(2, 1)),
    ("flow-adjacent-colon-plain", "a: {b:1}\n", Same),
    ("flow-adjacent-colon-json", "a: {\"b\":1}\n", Same),
    ("flow-single-pair", "a: [b: 1, c: 2]\n", Same),
    ("flow-key-no-value", "a: {b, c: 1}\n", Same),
    ("flow-question-key", "a: {? b : 1}\n", Same),
    ("flow-empty-key-colon", "a: {: 1}\n", Same),
    ("flow-colon-plain-end", "a: [b:]\n", Same),
    ("flow-trailing-colon-key", "a: {b:}\n", Same),
    ("flow-plain-with-colon-then-comma", "a: {b:c, d: e}\n", Same),
    ("json-in-seq-adjacent", "a: [\"b\":1]\n", Reject(1, 8)),
    ("json-seq-pair-space", "a: [\"b\": 1]\n", Same),
    (
        "flow-colon-value-adjacent-flow",
        "a: [b:[1]]\n",
        Reject(1, 7),
    ),
    (
        "flow-map-colon-adjacent-flow",
        "a: {b:{c: 1}}\n",
        Reject(1, 7),
    ),
    ("flow-json-adjacent-flow", "a: {\"b\":[1]}\n", Same),
    ("flow-plain-colon-inside", "a: [b:c:d]\n", Same),
    ("flow-seq-question-plain", "a: [?b]\n", Same),
    (
        "block-plain-ends-with-colon-in-flow-key",
        "a: {b:: 1}\n",
        Same,
    ),
    (
        "flow-url-with-port",
        "a: [http://h:80/x, {u: 'http://h:80'}]\n",
        Same,
    ),
    ("flow-windows-path", "a: [C:\\x, d]\n", Same),
    ("plain-colon-in-flow", "a: [http://x.y/z]\n", Same),
    ("plain-url-in-flow-map", "a: {u: http://x.y/z}\n", Same),
    ("flow-plain-qmark", "a: [b?c]\n", Same),
    ("flow-hash-in-plain", "a: [b#c]\n", Same),
    ("flow-map-newline-value", "a: {b:\n  1, c:\n  2}\n", Same),
    ("flow-seq-pair-multiline-value", "a: [b:\n 1]\n", Same),
    ("explicit-key-flow-multiline", "a: {? b\n c: 1}\n", Same),
    ("flow-multiline-json-value", "a: {\"b\":\n\"c\"}\n", Same),
    ("empty-key-flow-seq", "a: [ : empty key ]\n", Reject(1, 6)),
    ("dash-in-flow", "a: [-]\n", Same),
    ("flow-trailing-comma", "a: [1, 2,]\nb: {c: 1,}\n", Same),
    ("flow-empty-entry", "a: [1, , 2]\n", Reject(1, 8)),
    ("flow-content-after-close", "a: [1] x\n", Reject(1, 8)),
    ("flow-unclosed", "a: [1, 2\nb: 3\n", Reject(2, 2)),
    // Comments: one may follow a token directly, except a block scalar's indicators; a comment after `key:` whose plain value follows on the next line, then an empty line, makes ruamel.yaml fail.
    ("flow-comment-no-space", "a: [1,#c\n2]\n", Same),
    ("comment-after-dquoted-no-space", "a: \"b\"#c\n", Same),
    ("comment-after-flow-close-no-space", "a: [1]#c\n", Same),
    ("comment-after-open-no-space", "a: [#c\n1]\n", Same),
    (
        "comment-after-colon-in-flow-no-space",
        "a: {b: 1,#c\n}\n",
        Same,
    ),
    ("block-dquoted-comment-nospace", "- \"a\"#c\n", Same),
    (
        "literal-header-comment-nospace",
        "a: |#c\n  x\n",
        Reject(1, 5),
    ),
    ("key-comment-then-value", "a: # c\n  b\n", Same),
    (
        "comment-between-less",
        "key:    # Comment\n  # lines\n  a: 1\n",
        Same,
    ),
    ("comment-between-same", "key:\n  # lines\n  a: 1\n", Same),
    (
        "comment-between-deeper",
        "key:\n      # lines\n  a: 1\n",
        Same,
    ),
    (
        "comment-between-scalar",
        "key:\n      # lines\n  value\n",
        Same,
    ),
    ("comment-between-col0", "key:\n# lines\n  a: 1\n", Same),
    ("overlap-basic", "key: # c\n  value\n\nb: 2\n", Reject(1, 6)),
    ("overlap-int", "key: # c\n  1\n\nb: 2\n", Reject(1, 6)),
    (
        "overlap-multiline-plain",
        "key: # c\n  v\n  w\n\nb: 2\n",
        Reject(1, 6),
    ),
    (
        "overlap-spaces-line",
        "key: # c\n  v\n  \nb: 2\n",
        Reject(1, 6),
    ),
    (
        "overlap-blank-before",
        "key: # c\n\n  v\n\nb: 2\n",
        Reject(1, 6),
    ),
    (
        "overlap-in-seq-of-maps",
        "- key: # c\n    v\n\n- 2\n",
        Reject(1, 8),
    ),
    ("overlap-eof", "key: # c\n  v\n\n", Reject(1, 6)),
    ("overlap-null", "key: # c\n  ~\n\nb: 1\n", Reject(1, 6)),
    (
        "overlap-anchor-value-line",
        "key: # c\n  &a v\n\nb: 2\n",
        Reject(1, 6),
    ),
    (
        "overlap-crlf",
        "key: # c\r\n  v\r\n\r\nb: 2\r\n",
        Reject(1, 6),
    ),
    (
        "overlap-two-comments",
        "key:  # c\n  # d\n  v\n\nb: 2\n",
        Reject(1, 7),
    ),
    (
        "overlap-own-line-comment",
        "key:\n  # c\n  v\n\nb: 2\n",
        Same,
    ),
    (
        "overlap-anchor-key-line",
        "key: &a # c\n  v\n\nb: 1\n",
        Same,
    ),
    (
        "overlap-value-comment",
        "key: # c\n  value # d\n\nb: 2\n",
        Same,
    ),
    ("overlap-quoted", "key: # c\n  \"v\"\n\nb: 1\n", Same),
    ("overlap-flow-seq", "key: # c\n  [1]\n\nb: 2\n", Same),
    ("overlap-mapping", "key: # c\n  a: 1\n\n\nb: 2\n", Same),
    ("overlap-no-blank", "key: # c\n  value\nb: 2\n", Same),
    ("overlap-flow-map", "{a: # c\n  v\n\n}\n", Same),
    ("overlap-seq-item", "- # c\n  value\n\n- 2\n", Same),
    ("overlap-explicit-key", "? k # c\n: v\n\nb: 1\n", Same),
    ("overlap-empty-value", "key: # c\n\nb: 1\n", Same),
    // Block scalars.
    ("literal-indicator", "a: |2\n   x\n", Same),
    ("folded-keep", "a: >+\n  x\n\nb: 1\n", Same),
    (
        "literal-trailing-blank-more",
        "a: |\n  x\n     \nb: 1\n",
        Same,
    ),
    (
        "literal-less-indented-line",
        "a: |\n    x\n  y\n",
        Reject(3, 3),
    ),
    (
        "literal-leading-blank-spaces",
        "a: |\n   \n  x\n",
        Reject(3, 3),
    ),
    ("literal-leading-blank-less", "a: |\n \n  x\n", Reject(3, 3)),
    (
        "literal-leading-blank-more-2",
        "a: |\n \n  \n  x\n",
        Reject(4, 3),
    ),
    (
        "folded-leading-blank-more",
        "a: >\n    \n  x\n",
        Reject(3, 3),
    ),
    (
        "dwx9",
        "|\n \n  \n  literal\n   \n  \n  text\n\n # Comment\n",
        Reject(4, 3),
    ),
    // Characters, directives and document markers.
    ("bom", "\u{feff}a: 1\n", Same),
    ("nbsp", "a: x\u{a0}y\n", Same),
    ("emoji", "a: \u{1f600}\n", Same),
    ("ls", "a: x\u{2028}y\n", Same),
    ("nel", "a: x\u{85}b: 1\n", Reject(1, 7)),
    ("nul-char", "a: \u{0}\n", Reject(1, 4)),
    ("ctrl-bel-plain", "a: x\u{7}y\n", Reject(1, 5)),
    ("ctrl-bel-dquoted", "a: \"x\u{7}y\"\n", Reject(1, 6)),
    ("del-char", "a: x\u{7f}y\n", Reject(1, 5)),
    ("c1-char", "a: x\u{86}y\n", Reject(1, 5)),
    ("bom-mid", "a: x\u{feff}y\n", Refused(1, 5, BOM_INSIDE)),
    ("yaml-12-directive", "%YAML 1.2\n---\na: yes\n", Same),
    (
        "tag-directive",
        "%TAG !e! tag:example.com,2000:\n---\na: 1\n",
        Same,
    ),
    (
        "yaml-11-directive",
        "%YAML 1.1\n---\na: yes\n",
        Refused(1, 7, YAML_1_1),
    ),
    (
        "version-directive-11-noval",
        "%YAML 1.1\n---\na: 017\n",
        Refused(1, 7, YAML_1_1),
    ),
    ("doc-start-inline", "--- {a: 1}\n", Same),
    ("doc-start-comment", "--- # c\na: 1\n", Same),
    ("doc-end", "a: 1\n...\n", Same),
    // Block structure both readers agreed on before (kept so that the patch cannot move them).
    ("plain-continuation-ok", "a:\n  b: foo\n    bar\n", Same),
    (
        "plain-continuation-less",
        "a:\n  b: foo\n bar\n",
        Reject(3, 2),
    ),
    (
        "plain-continuation-col0",
        "a:\n  b: foo\nbar\n",
        Reject(4, 1),
    ),
    (
        "plain-continuation-same-col-as-key",
        "a:\n  b: foo\n  bar\n",
        Reject(4, 1),
    ),
    ("value-next-line-col0", "a:\nb\n", Reject(3, 1)),
    ("flow-value-next-line-col0", "a:\n[1, 2]\n", Reject(3, 1)),
    ("block-seq-same-col", "a:\n- 1\n- 2\n", Same),
    ("block-seq-less", "a:\n  b:\n - 1\n", Reject(3, 2)),
    ("bad-indent-map", "a:\n    b: 1\n   c: 2\n", Reject(3, 4)),
    ("anchor-merge", "b: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n", Same),
    ("complex-key-block", "? a\n: 1\n", Same),
    ("dash-no-space", "-a\n", Same),
    ("colon-no-space-block", "a:b\n", Same),
    ("plain-scalar-flow-indicators-block", "a: b]c\n", Same),
    ("trailing-spaces-after-flow", "a: [1]   \n", Same),
    ("plain-ending-colon-block", "a: b:\n", Reject(1, 5)),
];

/// Rows too long to write out: a simple key longer than 1024 characters, which neither reader
/// takes as a key, outside and inside a flow mapping.
fn long_rows() -> Vec<(&'static str, String, Expect)> {
    let key = "k".repeat(1100);
    vec![
        ("long-key", format!("{key}: 1\n"), Reject(1, 1101)),
        (
            "long-flow-key",
            format!("a: {{{key}: 1}}\n"),
            Reject(1, 1105),
        ),
    ]
}

#[test]
fn meltc_reads_yaml_as_meltano_does() {
    let rows: Vec<(&str, String, &Expect)> = CASES
        .iter()
        .map(|(name, text, expect)| (*name, (*text).to_owned(), expect))
        .collect();
    let long = long_rows();
    let rows: Vec<_> = rows
        .into_iter()
        .chain(
            long.iter()
                .map(|(name, text, expect)| (*name, text.clone(), expect)),
        )
        .collect();
    let documents: Vec<&str> = rows.iter().map(|(_, text, _)| text.as_str()).collect();
    let meltano = meltano_reads(&documents);
    assert_eq!(meltano.len(), rows.len(), "one result per document");

    let mut names = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for ((name, text, expect), meltano) in rows.iter().zip(&meltano) {
        assert!(names.insert(*name), "two rows named {name}");
        if let Err(problem) = check(text, expect, meltano) {
            failures.push(format!(
                "{name} ({text:?}): {problem}\n    Meltano: {meltano}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} documents differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    let count = |kind: fn(&Expect) -> bool| rows.iter().filter(|(_, _, e)| kind(e)).count();
    assert!(count(|e| matches!(e, Same)) >= 100 && count(|e| matches!(e, Reject(..))) >= 80);
}

/// One row: Meltano's result against the row, then meltc's.
fn check(text: &str, expect: &Expect, meltano: &Json) -> Result<(), String> {
    let meltano_value = meltano.get("value");
    let source = SourceFile::new("meltano.yml", "meltano.yml", text);
    let parsed = meltc::yaml::parse(FileId(0), &source);
    let error = parsed.diagnostics.iter().find(|d| d.is_error());
    match (expect, meltano_value, error) {
        (Same, Some(value), None) => {
            let root = parsed.root.as_ref().map_or(Json::Null, Node::to_json);
            if &root != value {
                return Err(format!("meltc reads {root}"));
            }
            let mut problems = Vec::new();
            if let Some(root) = &parsed.root {
                span_problems(root, text, &mut problems);
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(format!("spans: {}", problems.join("; ")))
            }
        }
        (Reject(line, column) | Refused(line, column, _), _, Some(error)) => {
            let departure = match expect {
                Refused(_, _, why) => Some(*why),
                _ => None,
            };
            if meltano_value.is_some() != departure.is_some() {
                return Err(match departure {
                    Some(why) => format!("Meltano refuses it: no longer a departure ({why})"),
                    None => "Meltano reads it".to_owned(),
                });
            }
            let at = error
                .primary
                .as_ref()
                .map(|label| source.line_col(label.span.start));
            if !error.code.name.starts_with("meltc::yaml::") || at != Some((*line, *column)) {
                return Err(format!(
                    "meltc's error is {} at {at:?}, not at {line}:{column}: {}",
                    error.code.name, error.message
                ));
            }
            Ok(())
        }
        (Same, None, _) => Err("Meltano refuses it".to_owned()),
        (Same, Some(_), Some(error)) => Err(format!("meltc refuses it: {}", error.message)),
        (Reject(..) | Refused(..), _, None) => Err("meltc reads it".to_owned()),
    }
}

/// Every scalar's span covers its text (plain: the same words, after its anchor if any; quoted:
/// from quote to quote; a block scalar: its content), and every flow collection's span runs
/// from its bracket to the matching one. (A block collection's span starts at its first
/// entry's content: a block list whose first entry is `[...]` starts where that entry does.)
fn span_problems(node: &Node, text: &str, problems: &mut Vec<String>) {
    let covered = &text[node.span.start..node.span.end];
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let flow = |first: Option<&Node>, open: char| {
        covered.starts_with(open) && first.is_none_or(|first| first.span.start != node.span.start)
    };
    match (&node.value, node.style) {
        (Value::Sequence(items), _) => {
            if flow(items.first(), '[') && !covered.ends_with(']') {
                problems.push(format!("list {covered:?}"));
            }
            for item in items {
                span_problems(item, text, problems);
            }
        }
        (Value::Mapping(entries), _) => {
            let first = entries.values().next().map(|(key, _)| key);
            if flow(first, '{') && !covered.ends_with('}') {
                problems.push(format!("mapping {covered:?}"));
            }
            for (key, value) in entries.values() {
                span_problems(key, text, problems);
                span_problems(value, text, problems);
            }
        }
        // An anchor before a scalar is part of its span.
        (Value::String(value), ScalarStyle::Plain) if !words(covered).ends_with(&words(value)) => {
            problems.push(format!("{value:?} at {covered:?}"));
        }
        (Value::String(value), ScalarStyle::Quoted) => {
            let closed = match covered.chars().next() {
                Some(quote @ ('"' | '\'')) => covered.len() > 1 && covered.ends_with(quote),
                // A block scalar's span is its content, indentation included.
                _ => words(covered) == words(value),
            };
            if !closed {
                problems.push(format!("quoted {covered:?}"));
            }
        }
        (Value::Null, ScalarStyle::Plain) => {}
        (_, ScalarStyle::Plain) if covered.trim().is_empty() => {
            problems.push(format!("{} at an empty span", node.kind_name()));
        }
        _ => {}
    }
}

/// Meltano's reading of each document (tests/support/meltano_yaml.py).
fn meltano_reads(documents: &[&str]) -> Vec<Json> {
    use std::io::Write as _;
    let python = fs_err::canonicalize(tool("meltano"))
        .expect("meltano resolves")
        .with_file_name("python");
    let home = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(python)
        .arg(crate::support::repo().join("tests/support/meltano_yaml.py"))
        .env_clear()
        .env("HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let input = serde_json::to_string(documents).unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "tests/support/meltano_yaml.py failed ({error}):\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
