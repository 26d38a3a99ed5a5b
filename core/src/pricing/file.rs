//! Price files a deployment loads at start (`WFLO_PRICES`, `--prices`, `load_prices`): wflo's
//! own schema or LiteLLM's `model_prices_and_context_window.json` as published.
//!
//! A file is read whole before anything applies: any entry wflo cannot read refuses the file,
//! naming the line and the reason, so a table is never half-updated.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::catalog::PriceOverride;
use super::litellm;
use crate::error::{Error, Result};

/// Which schema a price file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceFileFormat {
    /// `{"models": [{"name": …, "input": …}]}` in pico-USD per token (`pricing/README.md`);
    /// each entry overrides the fields it gives.
    Wflo,
    /// LiteLLM's JSON, keyed by model name, in USD per token; each entry replaces the model's
    /// prices.
    Litellm,
}

impl PriceFileFormat {
    /// The name people know the schema by.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceFileFormat::Wflo => "wflo",
            PriceFileFormat::Litellm => "LiteLLM",
        }
    }
}

/// serde_json's message without its " at line L column C" (relative to the piece parsed):
/// the caller names the line in the file.
fn reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" at line ") {
        Some((head, _)) => head.to_owned(),
        None => text,
    }
}

/// The file line of an error inside a piece that starts on `line`.
fn line_in(line: u64, e: &serde_json::Error) -> u64 {
    line + (e.line() as u64).saturating_sub(1)
}

/// An entry of the file that is not a price (reported, never an error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedEntry {
    pub name: String,
    pub line: u64,
    pub reason: String,
}

/// A parsed price file, not yet applied.
#[derive(Debug, Clone)]
pub struct PriceFile {
    /// Where it came from (a path, or what the caller named the text).
    pub origin: String,
    pub format: PriceFileFormat,
    /// The version and date the file states (wflo's schema `source`), if any.
    pub version: Option<String>,
    pub retrieved: Option<String>,
    /// Entries in file order, each with its line.
    pub entries: Vec<(u64, PriceOverride)>,
    pub skipped: Vec<SkippedEntry>,
}

impl PriceFile {
    /// Reads a price file from disk.
    pub fn read(path: &str) -> Result<PriceFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid(format!("cannot read the price file {path}: {e}")))?;
        let mut file = PriceFile::parse(&text, path)?;
        if file.retrieved.is_none() {
            // LiteLLM's file states no date: the day it was written is the best there is.
            file.retrieved = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .map(utc_date);
        }
        Ok(file)
    }

    /// Parses a price file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<PriceFile> {
        let fail = |line: u64, reason: String| {
            Error::invalid(format!(
                "price file {origin}, line {line}: {reason}; nothing was applied"
            ))
        };
        let top: HashMap<String, &RawValue> = serde_json::from_str(text).map_err(|e| {
            fail(
                e.line() as u64,
                format!("not a JSON object of prices ({}); expected wflo's {{\"models\": […]}} or LiteLLM's model_prices_and_context_window.json", reason(&e)),
            )
        })?;
        let lines = LineIndex::new(text);
        if let Some(models) = top.get("models") {
            parse_wflo(text, origin, &top, models, &lines, fail)
        } else {
            parse_litellm(text, origin, &top, &lines, fail)
        }
    }
}

fn parse_wflo(
    text: &str,
    origin: &str,
    top: &HashMap<String, &RawValue>,
    models: &RawValue,
    lines: &LineIndex,
    fail: impl Fn(u64, String) -> Error,
) -> Result<PriceFile> {
    #[derive(Deserialize)]
    struct Source {
        #[serde(default)]
        version: Option<String>,
        #[serde(default)]
        retrieved: Option<String>,
    }
    for (key, raw) in top {
        let line = lines.line_of(text, raw);
        match key.as_str() {
            "models" => {}
            "schema_version" => {
                if raw.get().trim() != "1" {
                    return Err(fail(
                        line,
                        format!(
                            "schema_version {} is not one this wflo reads (1)",
                            raw.get()
                        ),
                    ));
                }
            }
            "units" => {
                if raw.get().trim() != "\"pico-USD per token\"" {
                    return Err(fail(
                        line,
                        format!("units must be \"pico-USD per token\", got {}", raw.get()),
                    ));
                }
            }
            "source" => {}
            other => {
                return Err(fail(
                    line,
                    format!(
                        "unknown field '{other}' (wflo's schema has models, schema_version, source, units)"
                    ),
                ));
            }
        }
    }
    let source: Option<Source> = match top.get("source") {
        Some(raw) => Some(serde_json::from_str(raw.get()).map_err(|e| {
            fail(
                line_in(lines.line_of(text, raw), &e),
                format!(
                    "'source' is not an object with 'version' and 'retrieved' strings: {}",
                    reason(&e)
                ),
            )
        })?),
        None => None,
    };
    let raws: Vec<&RawValue> = serde_json::from_str(models.get()).map_err(|e| {
        fail(
            line_in(lines.line_of(text, models), &e),
            format!("'models' must be a list of entries: {}", reason(&e)),
        )
    })?;
    let mut entries = Vec::with_capacity(raws.len());
    for raw in raws {
        let line = lines.line_of(text, raw);
        let entry: PriceOverride = serde_json::from_str(raw.get()).map_err(|e| {
            fail(
                line_in(line, &e),
                format!("not a wflo price entry: {}", reason(&e)),
            )
        })?;
        entries.push((line, entry));
    }
    let (version, retrieved) = source.map_or((None, None), |s| (s.version, s.retrieved));
    Ok(PriceFile {
        origin: origin.to_owned(),
        format: PriceFileFormat::Wflo,
        version,
        retrieved,
        entries,
        skipped: Vec::new(),
    })
}

fn parse_litellm(
    text: &str,
    origin: &str,
    top: &HashMap<String, &RawValue>,
    lines: &LineIndex,
    fail: impl Fn(u64, String) -> Error,
) -> Result<PriceFile> {
    let mut named: Vec<(u64, &str, &RawValue)> = top
        .iter()
        .map(|(name, raw)| (lines.line_of(text, raw), name.as_str(), *raw))
        .collect();
    named.sort_by_key(|(line, _, _)| *line);
    let mut entries = Vec::with_capacity(named.len());
    let mut skipped = Vec::new();
    for (line, name, raw) in named {
        // LiteLLM's own example of its schema, not a model.
        if name == "sample_spec" {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(raw.get())
            .map_err(|e| fail(line_in(line, &e), format!("model '{name}': {}", reason(&e))))?;
        match litellm::convert(name, &value) {
            Ok(Some(entry)) => entries.push((line, entry)),
            Ok(None) => skipped.push(SkippedEntry {
                name: name.to_owned(),
                line,
                reason: litellm::NO_TOKEN_PRICE.into(),
            }),
            Err(reason) => return Err(fail(line, format!("model '{name}': {reason}"))),
        }
    }
    if entries.is_empty() {
        return Err(fail(1, "no model with a per-token price: neither wflo's schema ({\"models\": […]}) nor LiteLLM's".into()));
    }
    Ok(PriceFile {
        origin: origin.to_owned(),
        format: PriceFileFormat::Litellm,
        version: None,
        retrieved: None,
        entries,
        skipped,
    })
}

/// Byte offset → line number, for values borrowed from the text.
struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex {
            newlines: text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// The 1-based line where `raw` (a slice of `text`) starts.
    fn line_of(&self, text: &str, raw: &RawValue) -> u64 {
        let offset = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        self.newlines.partition_point(|&n| n < offset) as u64 + 1
    }
}

/// `YYYY-MM-DD` (UTC) of a file time.
fn utc_date(t: std::time::SystemTime) -> String {
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (y, m, d) = crate::clock::civil_date(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let day =
            |d: u64| utc_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(d * 86_400));
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(20_789), "2026-12-02");
        assert_eq!(day(11_016), "2000-02-29");
    }

    #[test]
    fn a_bad_entry_names_its_line() {
        let text = "{\n\"a\": {\"input_cost_per_token\": 1e-6, \"output_cost_per_token\": 2e-6},\n\"b\": {\"input_cost_per_token\": \"x\", \"output_cost_per_token\": 2e-6}\n}";
        let e = PriceFile::parse(text, "f.json").unwrap_err().to_string();
        assert!(
            e.contains("f.json, line 3")
                && e.contains("model 'b'")
                && e.contains("nothing was applied"),
            "{e}"
        );
        let e = PriceFile::parse(
            "{\"models\": [\n{\"name\": \"x\",\n \"inptu\": 1}]}",
            "w.json",
        )
        .unwrap_err()
        .to_string();
        // The line of the offending key, not of the entry's start.
        assert!(e.contains("line 3") && e.contains("inptu"), "{e}");
        let e = PriceFile::parse("{\"models\": [\n{\"name\": \"x\"},,]}", "w.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") || e.contains("line 2"), "{e}");
    }

    #[test]
    fn both_schemas_parse() {
        let w = PriceFile::parse(r#"{"schema_version":1,"source":{"version":"9","retrieved":"2026-12-01"},"units":"pico-USD per token","models":[{"name":"m","input":1,"output":2}]}"#, "w").unwrap();
        assert_eq!(
            (w.format, w.version.as_deref(), w.entries.len()),
            (PriceFileFormat::Wflo, Some("9"), 1)
        );
        let l = PriceFile::parse(r#"{"sample_spec":{"input_cost_per_token":0},"m":{"input_cost_per_token":1e-6,"output_cost_per_token":2e-6},"img":{"input_cost_per_image":0.1}}"#, "l").unwrap();
        assert_eq!(
            (l.format, l.entries.len(), l.skipped.len()),
            (PriceFileFormat::Litellm, 1, 1)
        );
    }
}
