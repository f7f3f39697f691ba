//! Scenario errors: every problem names the file, line and column, and says what was expected.

use std::fmt;
use std::ops::Range;

/// A problem at a place in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    /// The offending line (at most ~100 characters of it, around the column), for the code
    /// frame.
    pub source_line: String,
    /// The column inside `source_line`.
    pub column_in_frame: usize,
}

impl Located {
    /// Locates the byte `span` of `text`.
    pub fn at(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        let start = span.map_or(0, |s| s.start).min(text.len());
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..start].chars().count() + 1;
        let line_text = text[line_start..].lines().next().unwrap_or("");
        let (source_line, column_in_frame) = frame(line_text, column);
        Located {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            source_line,
            column_in_frame,
        }
    }
}

/// Characters of a source line shown in an error's code frame at most.
const FRAME_CHARS: usize = 100;

/// At most [`FRAME_CHARS`] characters of `line` around 1-based `column`, and the column inside
/// them (a 200 KB line is not echoed).
fn frame(line: &str, column: usize) -> (String, usize) {
    let n = line.chars().count();
    if n <= FRAME_CHARS {
        return (line.to_string(), column);
    }
    let from = column.saturating_sub(FRAME_CHARS / 2).min(n - FRAME_CHARS);
    let mut out: String = line.chars().skip(from).take(FRAME_CHARS).collect();
    let mut col = column - from;
    if from > 0 {
        out.insert(0, '…');
        col += 1;
    }
    if from + FRAME_CHARS < n {
        out.push('…');
    }
    (out, col)
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        write!(
            f,
            "{:gutter$} | {:>col$}",
            "",
            "^",
            col = self.column_in_frame
        )
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file is not valid TOML, or not a valid scenario.
    #[error("{0}")]
    Invalid(Box<Located>),
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no scenario `{name}`: it is neither a file nor a built-in scenario (built-in: {available})"
    )]
    NotFound { name: String, available: String },
    /// A `--fault` spec that is not one (`adhoc`).
    #[error("--fault {spec:?}: {message}")]
    Fault { spec: String, message: String },
}

impl ScenarioError {
    /// The location, for invalid files.
    pub fn located(&self) -> Option<&Located> {
        match self {
            ScenarioError::Invalid(l) => Some(l),
            _ => None,
        }
    }
}
