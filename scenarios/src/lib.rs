//! # wardtwin-scenarios: the scenario format and the built-in library
//!
//! A scenario is a TOML file (reference: `docs/scenarios.md`) describing a site, its wards and
//! beds, the patient population and its device kits, a timeline of clinical events and
//! artifacts, and the run (epoch, duration, step, seed). [`load`] and [`parse`] turn one into a
//! validated [`Scenario`] or an error naming file, line, column and what was expected.
//!
//! The built-in library ([`library`]) is embedded in the binary and also lives as files under
//! `scenarios/library/`.

mod error;
mod model;
mod schema;
mod text;
mod validate;

use sha2::{Digest, Sha256};

pub use error::{Located, ScenarioError};
pub use model::*;
pub use validate::limits;
pub mod adhoc;
pub mod layout;

/// The built-in scenarios: (name, TOML source).
pub const LIBRARY: &[(&str, &str)] = &[
    ("quickstart", include_str!("../library/quickstart.toml")),
    (
        "ward-baseline-24h",
        include_str!("../library/ward-baseline-24h.toml"),
    ),
    (
        "hospital-1000-24h",
        include_str!("../library/hospital-1000-24h.toml"),
    ),
    (
        "cold-chain-failure",
        include_str!("../library/cold-chain-failure.toml"),
    ),
    ("asset-hunt", include_str!("../library/asset-hunt.toml")),
    ("hospital-day", include_str!("../library/hospital-day.toml")),
    ("cardiac-ward", include_str!("../library/cardiac-ward.toml")),
    (
        "drill-ward-wifi-night",
        include_str!("../library/drill-ward-wifi-night.toml"),
    ),
    (
        "drill-gateway-power",
        include_str!("../library/drill-gateway-power.toml"),
    ),
    (
        "drill-flapping-uplink",
        include_str!("../library/drill-flapping-uplink.toml"),
    ),
    (
        "drill-battery-wave",
        include_str!("../library/drill-battery-wave.toml"),
    ),
    (
        "drill-clock-step",
        include_str!("../library/drill-clock-step.toml"),
    ),
    (
        "drill-broker-restart",
        include_str!("../library/drill-broker-restart.toml"),
    ),
];

/// The built-in scenarios, parsed.
pub fn library() -> Vec<Scenario> {
    LIBRARY
        .iter()
        .map(|(name, text)| {
            parse(text, &format!("library:{name}"))
                .unwrap_or_else(|e| panic!("built-in scenario {name} is invalid: {e}"))
        })
        .collect()
}

/// Parses scenario `text`; `file` names it in error messages.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let ctx = validate::Ctx { file, text };
    if let Some(at) = text::too_deep(text) {
        return Err(ctx.err(
            at..at + 1,
            format!(
                "arrays and inline tables nest deeper than {} levels here",
                text::MAX_NESTING
            ),
        ));
    }
    let toml_err = |e: toml::de::Error| {
        let span = e.span().or(Some(0..0));
        ctx.err(span.unwrap_or(0..0), e.message().trim().to_string())
    };
    // The spanned document first: syntax errors, and numbers that are not finite, which typed
    // deserialisation would accept silently.
    let doc = toml::de::DeTable::parse(text).map_err(toml_err)?;
    if let Some((span, v)) = text::non_finite(&doc) {
        return Err(ctx.err(
            span,
            format!("{v} is not a finite number: every number in a scenario must be finite"),
        ));
    }
    let raw: schema::RawScenario = toml::from_str(text).map_err(toml_err)?;
    let sha = Sha256::digest(text.as_bytes());
    let hex = sha.iter().map(|b| format!("{b:02x}")).collect();
    validate::resolve(&ctx, raw, file, hex)
}

/// Parses scenario file contents, which must be UTF-8 (an error names the first bad byte's
/// line and column).
pub fn parse_bytes(bytes: &[u8], file: &str) -> Result<Scenario, ScenarioError> {
    parse(text::utf8(bytes, file)?, file)
}

/// Reads a scenario file, within the size limit.
fn read_file(path: &str) -> Result<Vec<u8>, ScenarioError> {
    let io = |source| ScenarioError::Io {
        path: path.to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > limits::FILE_BYTES {
        return Err(io(std::io::Error::other(format!(
            "{size} bytes: a scenario file is at most {} bytes",
            limits::FILE_BYTES
        ))));
    }
    std::fs::read(path).map_err(io)
}

/// Loads a scenario by built-in name or by path, with ad-hoc faults added to its timeline
/// (`run --fault`, [`adhoc`]): each spec, or the `[[event]]`s of a drill file it names. Errors
/// in them point into the combined text, labelled `(with --fault)`.
pub fn load_with_faults(name_or_path: &str, faults: &[String]) -> Result<Scenario, ScenarioError> {
    if faults.is_empty() {
        return load(name_or_path);
    }
    let (text, label) = if std::path::Path::new(name_or_path).is_file() {
        let bytes = read_file(name_or_path)?;
        (
            text::utf8(&bytes, name_or_path)?.to_string(),
            name_or_path.to_string(),
        )
    } else {
        match LIBRARY.iter().find(|(n, _)| *n == name_or_path) {
            Some((n, t)) => (t.to_string(), format!("library:{n}")),
            None => return load(name_or_path),
        }
    };
    let mut text = text;
    for spec in faults {
        text.push_str(&format!("\n# --fault {spec:?}"));
        if std::path::Path::new(spec).is_file() {
            let bytes = read_file(spec)?;
            text.push('\n');
            text.push_str(text::utf8(&bytes, spec)?);
            text.push('\n');
        } else {
            let ev = adhoc::event_toml(spec).map_err(|message| ScenarioError::Fault {
                spec: spec.clone(),
                message,
            })?;
            text.push_str(&ev);
        }
    }
    parse(&text, &format!("{label} (with --fault)"))
}

/// Loads a scenario by built-in name or by path. A path that exists wins over a library name.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    if std::path::Path::new(name_or_path).is_file() {
        let bytes = read_file(name_or_path)?;
        return parse_bytes(&bytes, name_or_path);
    }
    match LIBRARY.iter().find(|(n, _)| *n == name_or_path) {
        Some((n, text)) => parse(text, &format!("library:{n}")),
        None if name_or_path.ends_with(".toml") || name_or_path.contains('/') => {
            Err(ScenarioError::Io {
                path: name_or_path.to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            })
        }
        None => Err(ScenarioError::NotFound {
            name: name_or_path.to_string(),
            available: LIBRARY
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests;
