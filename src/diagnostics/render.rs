//! Turning diagnostics into text: miette's graphical report (terminals), JSON (tools) and
//! GitHub workflow annotations (CI).
//!
//! The JSON document is part of meltc's interface (documented in the README):
//! `{"version": 1, "diagnostics": [...], "summary": {"errors": N, "warnings": N}}`.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use super::{Diagnostic, FileId, Label, Severity, SourceMap, Span};

/// The output formats of `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Graphical report with source snippets (stderr).
    Human,
    /// One JSON document (stdout).
    Json,
    /// GitHub Actions workflow commands (stdout).
    Github,
}

/// How the graphical report looks.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Use colours.
    pub color: bool,
    /// Wrap width.
    pub width: usize,
}

/// Render `diagnostics` as a graphical report, each followed by a blank line. The text of every
/// span a diagnostic marks as a secret is shown as `*` in every snippet.
#[must_use]
pub fn human(diagnostics: &[Diagnostic], sources: &SourceMap, style: Style) -> String {
    let secrets: Vec<Span> = diagnostics
        .iter()
        .flat_map(|diagnostic| diagnostic.secrets.iter().copied())
        .collect();
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let view = View::new(diagnostic, sources, &secrets);
        if handler.render_report(&mut out, &view).is_err() {
            out.push_str(&plain_line(diagnostic, sources));
        }
        out.push('\n');
    }
    out
}

/// One line per diagnostic: `file:line:col: severity[code]: message`.
#[must_use]
pub fn plain_line(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let location = diagnostic.primary.as_ref().map(|label| {
        let position = Position::of(label, sources);
        format!("{}:{}:{}: ", position.file, position.line, position.column)
    });
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    format!(
        "{}{severity}[{}]: {}\n",
        location.unwrap_or_default(),
        diagnostic.code.name,
        diagnostic.message
    )
}

/// The summary line: `2 errors, 1 warning`.
#[must_use]
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let (errors, warnings) = counts(diagnostics);
    let plural =
        |count: usize, word: &str| format!("{count} {word}{}", if count == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

fn counts(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    (errors, diagnostics.len() - errors)
}

/// The JSON document for `--format json`.
#[must_use]
pub fn json(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        version: u32,
        diagnostics: Vec<JsonDiagnostic<'a>>,
        summary: Summary,
    }
    #[derive(Serialize)]
    struct Summary {
        errors: usize,
        warnings: usize,
    }
    #[derive(Serialize)]
    struct JsonDiagnostic<'a> {
        code: &'static str,
        severity: Severity,
        message: &'a str,
        #[serde(flatten)]
        location: Option<Position>,
        help: Option<&'a str>,
        related: Vec<Position>,
    }
    let (errors, warnings) = counts(diagnostics);
    let document = Document {
        version: 1,
        diagnostics: diagnostics
            .iter()
            .map(|diagnostic| JsonDiagnostic {
                code: diagnostic.code.name,
                severity: diagnostic.severity,
                message: &diagnostic.message,
                location: diagnostic
                    .primary
                    .as_ref()
                    .map(|label| Position::of(label, sources)),
                help: diagnostic.help.as_deref(),
                related: diagnostic
                    .secondary
                    .iter()
                    .map(|label| Position::of(label, sources))
                    .collect(),
            })
            .collect(),
        summary: Summary { errors, warnings },
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// GitHub Actions annotations for `--format github`.
#[must_use]
pub fn github(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let kind = if diagnostic.is_error() {
            "error"
        } else {
            "warning"
        };
        let mut properties = Vec::new();
        if let Some(label) = &diagnostic.primary {
            let position = Position::of(label, sources);
            properties.push(format!("file={}", escape_property(&position.file)));
            properties.push(format!("line={}", position.line));
            properties.push(format!("col={}", position.column));
            properties.push(format!("endLine={}", position.end_line));
            properties.push(format!("endColumn={}", position.end_column));
        }
        properties.push(format!("title={}", escape_property(diagnostic.code.name)));
        let mut message = diagnostic.message.clone();
        if let Some(help) = &diagnostic.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{kind} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A location as file, 1-based line and column (columns in characters).
#[derive(Debug, Serialize)]
struct Position {
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    label: String,
}

impl Position {
    fn of(label: &Label, sources: &SourceMap) -> Self {
        let file = sources.get(label.span.file);
        let (line, column) = file.line_col(label.span.start);
        let (end_line, end_column) = file.line_col(label.span.end);
        Self {
            file: file.name().to_owned(),
            line,
            column,
            end_line,
            end_column,
            label: label.message.clone(),
        }
    }
}

/// A diagnostic as miette sees it: labels in the primary file, other files as related reports.
struct View {
    message: String,
    code: &'static str,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<CharColumns>,
    labels: Vec<LabeledSpan>,
    related: Vec<View>,
}

impl View {
    fn new(diagnostic: &Diagnostic, sources: &SourceMap, secrets: &[Span]) -> Self {
        let severity = match diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        };
        let file = diagnostic.primary.as_ref().map(|label| label.span.file);
        let in_file = |label: &&Label| Some(label.span.file) == file;
        let labels = diagnostic
            .primary
            .iter()
            .chain(diagnostic.secondary.iter().filter(in_file))
            .map(labeled)
            .collect();
        let related = diagnostic
            .secondary
            .iter()
            .filter(|label| Some(label.span.file) != file)
            .map(|label| View {
                message: label.message.clone(),
                code: diagnostic.code.name,
                severity: miette::Severity::Advice,
                help: None,
                source: Some(named_source(label.span.file, sources, secrets)),
                labels: vec![labeled(label)],
                related: Vec::new(),
            })
            .collect();
        Self {
            message: diagnostic.message.clone(),
            code: diagnostic.code.name,
            severity,
            help: diagnostic.help.clone(),
            source: file.map(|file| named_source(file, sources, secrets)),
            labels,
            related,
        }
    }
}

fn labeled(label: &Label) -> LabeledSpan {
    LabeledSpan::new_with_span(
        Some(label.message.clone()),
        SourceSpan::from(label.span.start..label.span.end),
    )
}

/// The file as a report shows it: each secret's bytes replaced by `*` (line breaks kept), so
/// every offset and line stays where it was.
fn named_source(id: FileId, sources: &SourceMap, secrets: &[Span]) -> CharColumns {
    let file = sources.get(id);
    let mut bytes = file.contents().as_bytes().to_vec();
    for span in secrets.iter().filter(|span| span.file == id) {
        for byte in bytes.iter_mut().take(span.end).skip(span.start) {
            if *byte != b'\n' && *byte != b'\r' {
                *byte = b'*';
            }
        }
    }
    // Only whole characters were replaced by ASCII, so the text is still UTF-8.
    let text = String::from_utf8(bytes).unwrap_or_else(|_| file.contents().to_owned());
    CharColumns(NamedSource::new(file.name(), terminal_safe(&text)).with_language("yaml"))
}

/// The file's text with every control character (other than tab and line breaks) replaced by a
/// visible one of the same length in bytes and characters, so that spans and columns still
/// match: a quoted source line must not send escape sequences to the terminal (a file with an
/// ESC in it is reported as meltc::yaml::syntax, with that very line quoted).
fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' | '\u{7f}' => '?',
            '\u{80}'..='\u{9f}' => '\u{bf}',
            '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            _ => c,
        })
        .collect()
}

/// A source whose reported columns count characters, not bytes, so that the `file:line:col`
/// header of a report agrees with the JSON and GitHub output on non-ASCII lines.
struct CharColumns(NamedSource<String>);

impl miette::SourceCode for CharColumns {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents = self
            .0
            .read_span(span, context_lines_before, context_lines_after)?;
        let text = self.0.inner().as_str();
        let offset = contents.span().offset();
        let line_start = text[..offset.min(text.len())]
            .rfind('\n')
            .map_or(0, |index| index + 1);
        let column = text
            .get(line_start..offset)
            .map_or(contents.column(), |prefix| prefix.chars().count());
        Ok(Box::new(
            miette::MietteSpanContents::new_named(
                self.0.name().to_owned(),
                contents.data(),
                *contents.span(),
                contents.line(),
                column,
                contents.line_count(),
            )
            .with_language("yaml"),
        ))
    }
}

impl fmt::Debug for View {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl fmt::Display for View {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for View {}

impl miette::Diagnostic for View {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source
            .as_ref()
            .map(|source| source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related
                    .iter()
                    .map(|view| view as &dyn miette::Diagnostic),
            ))
        }
    }
}
