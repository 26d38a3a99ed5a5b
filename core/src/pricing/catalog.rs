//! The price catalog an engine uses: the built-in table plus the user's own prices.
//!
//! Lookups are on the hot path of every tracked call, so an exact name costs one hash lookup;
//! names that need the slower resolution steps are cached once resolved.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::file::{PriceFile, PriceFileFormat, SkippedEntry};
use super::model::ModelPrice;
use super::resolve::{strip_snapshot, suggestions, without_prefixes};
use super::table::{BuiltinTable, PriceSource, builtin};
use crate::error::{Error, Result};

/// How a requested name was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The name is in the table as given (or differs only in letter case).
    Exact,
    /// The name matched once its provider prefix was removed, or once the table's own prefix
    /// was added.
    Unprefixed,
    /// A dated snapshot was priced as its base model.
    Snapshot,
    /// A price registered at run time.
    Override,
}

/// A requested model name resolved to its price entry.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub price: Arc<ModelPrice>,
    /// The entry's name and provider, shared so that recording a call allocates nothing.
    pub name: Arc<str>,
    pub provider: Arc<str>,
    pub resolution: Resolution,
}

impl ResolvedModel {
    pub(crate) fn new(price: Arc<ModelPrice>, resolution: Resolution) -> ResolvedModel {
        ResolvedModel {
            name: Arc::from(price.name.as_str()),
            provider: Arc::from(price.provider.as_str()),
            price,
            resolution,
        }
    }

    fn with(&self, resolution: Resolution) -> ResolvedModel {
        ResolvedModel {
            resolution,
            ..self.clone()
        }
    }
}

/// Run-time price entries, as users write them: `{"models": [{"name": …, "input": …}]}` in
/// pico-USD per token. An entry named like a built-in model overrides only the fields it gives.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverrides {
    pub models: Vec<PriceOverride>,
}

/// One run-time entry: like [`ModelPrice`] but every price is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    pub name: String,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub input: Option<u64>,
    #[serde(default)]
    pub output: Option<u64>,
    #[serde(default)]
    pub cache_read: Option<u64>,
    #[serde(default)]
    pub cache_write_5m: Option<u64>,
    #[serde(default)]
    pub cache_write_1h: Option<u64>,
    #[serde(default)]
    pub reasoning: Option<u64>,
    #[serde(default)]
    pub tiers: Option<Vec<super::Tier>>,
    #[serde(default)]
    pub max_input: Option<u64>,
    #[serde(default)]
    pub max_output: Option<u64>,
    /// Accepted so a whole table in wflo's schema (`pricing/prices.json`) loads as a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation_date: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

impl PriceOverrides {
    /// Parses the JSON form, rejecting unknown fields so a typo never silently prices at 0.
    pub fn from_json(text: &str) -> Result<PriceOverrides> {
        serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("price overrides are not valid JSON of the form {{\"models\": [{{\"name\": …, \"input\": …, \"output\": …}}]}}: {e}")))
    }
}

const CACHE_LIMIT: usize = 4096;

/// Built-in prices plus run-time overrides. Cheap to share (`Arc`); all methods take `&self`.
pub struct PriceCatalog {
    builtin: &'static BuiltinTable,
    overrides: RwLock<HashMap<String, ResolvedModel>>,
    /// Requested names that needed more than an exact lookup.
    cache: RwLock<HashMap<String, ResolvedModel>>,
    /// Price files applied over the built-in table, in order.
    files: RwLock<Vec<LoadedPriceFile>>,
}

impl Default for PriceCatalog {
    fn default() -> Self {
        PriceCatalog::new()
    }
}

impl PriceCatalog {
    /// The built-in table with no overrides.
    pub fn new() -> PriceCatalog {
        PriceCatalog {
            builtin: builtin(),
            overrides: RwLock::new(HashMap::new()),
            cache: RwLock::new(HashMap::new()),
            files: RwLock::new(Vec::new()),
        }
    }

    /// Where the built-in prices come from (source, version, date).
    pub fn source(&self) -> &PriceSource {
        &self.builtin.source
    }

    /// Number of models in the built-in table.
    pub fn builtin_len(&self) -> usize {
        self.builtin.by_name.len()
    }

    /// Registers or overrides prices. An entry whose name resolves to a known model starts from
    /// that model's prices; a new name needs at least `input` and `output`. All entries are
    /// checked before any is applied.
    pub fn apply_overrides(&self, overrides: &PriceOverrides) -> Result<()> {
        let staged = overrides
            .models
            .iter()
            .map(|entry| self.stage(entry, false))
            .collect::<Result<Vec<_>>>()?;
        self.commit(staged);
        Ok(())
    }

    /// What a price file would change, without applying it.
    pub fn diff_file(&self, file: &PriceFile) -> Result<PriceChanges> {
        Ok(self.stage_file(file)?.1)
    }

    /// Applies a price file over the table: every entry is checked first and a bad one refuses
    /// the whole file (with its line); returns what changed.
    pub fn load_file(&self, file: &PriceFile) -> Result<PriceChanges> {
        let (staged, changes) = self.stage_file(file)?;
        self.commit(staged);
        self.files.write().push(LoadedPriceFile {
            origin: file.origin.clone(),
            format: file.format,
            version: file.version.clone(),
            retrieved: file.retrieved.clone(),
            models: file.entries.len(),
        });
        Ok(changes)
    }

    fn stage_file(&self, file: &PriceFile) -> Result<(Vec<Arc<ModelPrice>>, PriceChanges)> {
        // LiteLLM's entries are a model's whole price; wflo's override the fields they give.
        let replace = file.format == PriceFileFormat::Litellm;
        let mut staged = Vec::with_capacity(file.entries.len());
        let mut changes = PriceChanges {
            origin: file.origin.clone(),
            format: file.format,
            models: file.entries.len(),
            added: Vec::new(),
            changed: Vec::new(),
            unchanged: 0,
            skipped: file.skipped.clone(),
        };
        for (line, entry) in &file.entries {
            let price = self.stage(entry, replace).map_err(|e| {
                let reason = match e {
                    Error::InvalidArgument(reason) => reason,
                    other => other.to_string(),
                };
                Error::invalid(format!(
                    "price file {}, line {line}: {reason}; nothing was applied",
                    file.origin
                ))
            })?;
            match self.exact(&price.name) {
                None => changes.added.push(price.name.clone()),
                Some(before) => {
                    let fields = field_changes(&before, &price);
                    if fields.is_empty() {
                        changes.unchanged += 1;
                    } else {
                        changes.changed.push(PriceChange {
                            name: price.name.clone(),
                            fields,
                        });
                    }
                }
            }
            staged.push(price);
        }
        Ok((staged, changes))
    }

    /// The entry a name has exactly (run-time prices first), with no resolution rule applied.
    fn exact(&self, name: &str) -> Option<Arc<ModelPrice>> {
        if let Some(hit) = self.overrides.read().get(name) {
            return Some(hit.price.clone());
        }
        self.builtin.by_name.get(name).map(|r| r.price.clone())
    }

    /// One entry checked and turned into the price it will have. `replace`: the entry is the
    /// model's whole price (nothing kept from the table's entry).
    fn stage(&self, entry: &PriceOverride, replace: bool) -> Result<Arc<ModelPrice>> {
        let name = entry.name.trim();
        if name.is_empty() {
            return Err(Error::invalid("a price override needs a non-empty 'name'"));
        }
        // The name and provider end up in call records.
        crate::text::check("a price override's name", name)?;
        crate::text::check(
            "a price override's provider",
            entry.provider.as_deref().unwrap_or(""),
        )?;
        let base = if replace {
            None
        } else {
            self.resolve(name).ok().map(|r| (*r.price).clone())
        };
        let mut price = match base {
            Some(mut base) => {
                base.name = name.to_owned();
                base
            }
            None => {
                if entry.input.is_none() || entry.output.is_none() {
                    return Err(Error::invalid(format!(
                        "model '{name}' is not in the price table: its override must give both 'input' and 'output'"
                    )));
                }
                ModelPrice {
                    name: name.to_owned(),
                    provider: String::new(),
                    mode: "chat".into(),
                    input: 0,
                    output: 0,
                    cache_read: None,
                    cache_write_5m: None,
                    cache_write_1h: None,
                    reasoning: None,
                    tiers: Vec::new(),
                    max_input: None,
                    max_output: None,
                    deprecation_date: None,
                    deprecated: false,
                    last_seen: None,
                }
            }
        };
        if let Some(v) = &entry.provider {
            price.provider = v.clone();
        }
        if let Some(v) = &entry.mode {
            price.mode = v.clone();
        }
        if let Some(v) = entry.input {
            price.input = v;
        }
        if let Some(v) = entry.output {
            price.output = v;
        }
        price.cache_read = entry.cache_read.or(price.cache_read);
        price.cache_write_5m = entry.cache_write_5m.or(price.cache_write_5m);
        price.cache_write_1h = entry.cache_write_1h.or(price.cache_write_1h);
        price.reasoning = entry.reasoning.or(price.reasoning);
        if let Some(t) = &entry.tiers {
            price.tiers = t.clone();
        }
        price.max_input = entry.max_input.or(price.max_input);
        price.max_output = entry.max_output.or(price.max_output);
        price.deprecation_date = entry.deprecation_date.clone().or(price.deprecation_date);
        price.deprecated = entry.deprecated;
        price.last_seen = entry.last_seen.clone().filter(|_| entry.deprecated);
        price.validate()?;
        Ok(Arc::new(price))
    }

    fn commit(&self, staged: Vec<Arc<ModelPrice>>) {
        let mut map = self.overrides.write();
        for price in staged {
            map.insert(
                price.name.clone(),
                ResolvedModel::new(price, Resolution::Override),
            );
        }
        drop(map);
        self.cache.write().clear();
    }

    /// Where this catalog's prices come from: the built-in table and the files loaded over it.
    pub fn table_info(&self) -> PriceTableInfo {
        let source = self.source();
        PriceTableInfo {
            source: source.name.clone(),
            version: source.version.clone(),
            retrieved: source.retrieved.clone(),
            models: self.builtin_len(),
            files: self.files.read().clone(),
            overrides: self.overrides.read().len(),
        }
    }

    /// Removes a run-time price; returns whether there was one.
    pub fn remove_override(&self, name: &str) -> bool {
        let removed = self.overrides.write().remove(name).is_some();
        if removed {
            self.cache.write().clear();
        }
        removed
    }

    /// True when the table (or a run-time price) has exactly this name — no resolution rule
    /// applied.
    pub fn has_exact(&self, name: &str) -> bool {
        self.overrides.read().contains_key(name) || self.builtin.by_name.contains_key(name)
    }

    /// Resolves a model name to its price (DESIGN.md §3). Never a silent zero: an unknown name
    /// is `UNKNOWN_MODEL` with up to three suggestions.
    pub fn resolve(&self, requested: &str) -> Result<ResolvedModel> {
        if requested.trim().is_empty() {
            return Err(Error::invalid("model name must not be empty"));
        }
        {
            let overrides = self.overrides.read();
            if !overrides.is_empty() {
                if let Some(hit) = overrides.get(requested) {
                    return Ok(hit.clone());
                }
            }
        }
        if let Some(hit) = self.builtin.by_name.get(requested) {
            return Ok(hit.clone());
        }
        if let Some(hit) = self.cache.read().get(requested) {
            return Ok(hit.clone());
        }
        let resolved = self
            .resolve_slow(requested)
            .ok_or_else(|| Error::UnknownModel {
                model: requested.to_owned(),
                suggestions: self.suggest(requested),
            })?;
        let mut cache = self.cache.write();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(requested.to_owned(), resolved.clone());
        Ok(resolved)
    }

    fn resolve_slow(&self, requested: &str) -> Option<ResolvedModel> {
        let name = requested.trim();
        if let Some(hit) = self.lookup_plain(name) {
            return Some(hit);
        }
        // A dated snapshot priced as its base model, also under a provider prefix.
        let mut snapshot_bases: Vec<&str> = strip_snapshot(name).into_iter().collect();
        snapshot_bases.extend(without_prefixes(name).filter_map(strip_snapshot));
        for base in snapshot_bases {
            if let Some(hit) = self.lookup_plain(base) {
                return Some(hit.with(Resolution::Snapshot));
            }
        }
        None
    }

    /// Exact (also case-insensitive), then without provider prefixes, then with the table's own
    /// prefix added.
    fn lookup_plain(&self, name: &str) -> Option<ResolvedModel> {
        let exact = |n: &str| -> Option<ResolvedModel> {
            if let Some(hit) = self.overrides.read().get(n) {
                return Some(hit.clone());
            }
            self.builtin
                .by_name
                .get(n)
                .or_else(|| self.builtin.by_lower_name.get(&n.to_lowercase()))
                .cloned()
        };
        if let Some(hit) = exact(name) {
            return Some(hit);
        }
        for tail in without_prefixes(name) {
            if let Some(hit) = exact(tail) {
                return Some(hit.with(Resolution::Unprefixed));
            }
        }
        // The table lists the model only under a provider prefix. When several providers list
        // it, prefer the model's own provider (`mistral` for `mistral-large-latest`), then the
        // most expensive: an unclear name must never under-charge.
        let last = name.rsplit('/').next().unwrap_or(name);
        let candidates = self.builtin.by_last_segment.get(last)?;
        let lower = last.to_ascii_lowercase();
        let home = |p: &ModelPrice| {
            let prefix = p.name.split('/').next().unwrap_or("");
            !prefix.is_empty() && lower.contains(&prefix.to_ascii_lowercase())
        };
        let best = candidates.iter().max_by_key(|p| {
            (
                !p.deprecated,
                home(p),
                u128::from(p.input) + u128::from(p.output),
            )
        })?;
        self.builtin
            .by_name
            .get(&best.name)
            .map(|hit| hit.with(Resolution::Unprefixed))
    }

    fn suggest(&self, requested: &str) -> Vec<String> {
        let overrides = self.overrides.read();
        let names = self
            .builtin
            .names
            .iter()
            .map(String::as_str)
            .chain(overrides.keys().map(String::as_str));
        suggestions(requested, names, 3)
    }

    /// Every known model (built-in and overrides), sorted by name, optionally of one provider.
    pub fn models(&self, provider: Option<&str>) -> Vec<Arc<ModelPrice>> {
        let overrides = self.overrides.read();
        let mut all: Vec<Arc<ModelPrice>> = self
            .builtin
            .names
            .iter()
            .filter(|n| !overrides.contains_key(*n))
            .filter_map(|n| self.builtin.by_name.get(n).map(|r| r.price.clone()))
            .chain(overrides.values().map(|r| r.price.clone()))
            .filter(|p| provider.is_none_or(|want| p.provider.eq_ignore_ascii_case(want)))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }
}

/// What a price file changes in the table (`wflo prices diff`, `load_prices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceChanges {
    pub origin: String,
    pub format: PriceFileFormat,
    /// Price entries in the file.
    pub models: usize,
    /// Names the table did not have.
    pub added: Vec<String>,
    /// Names whose prices or limits differ, field by field.
    pub changed: Vec<PriceChange>,
    /// Entries equal to what the table has.
    pub unchanged: usize,
    /// Entries that are not per-token prices (LiteLLM's image, audio, search prices…).
    pub skipped: Vec<SkippedEntry>,
}

/// One model whose entry a file changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceChange {
    pub name: String,
    pub fields: Vec<FieldChange>,
}

/// One field before and after (`null`: absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// A price file applied over the built-in table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedPriceFile {
    pub origin: String,
    pub format: PriceFileFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The date the file states, else the day it was last written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrieved: Option<String>,
    pub models: usize,
}

/// Where an engine's prices come from (`wflo price`, the report, the breakdown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceTableInfo {
    /// The built-in table's source, version and date.
    pub source: String,
    pub version: String,
    pub retrieved: String,
    pub models: usize,
    /// Files loaded over it, in order.
    pub files: Vec<LoadedPriceFile>,
    /// Names priced at run time (from files and `set_prices`).
    pub overrides: usize,
}

impl PriceTableInfo {
    /// One line for people, e.g. `LiteLLM … 1.110.2 (2026-11-27) + prices.json (litellm, 2026-12-01)`.
    pub fn label(&self) -> String {
        let mut out = format!("{} {} ({})", self.source, self.version, self.retrieved);
        for f in &self.files {
            let format = f.format.as_str();
            // The file's name, not its path: the same table reads the same on every machine.
            let name = std::path::Path::new(&f.origin)
                .file_name()
                .map_or(f.origin.as_str(), |n| n.to_str().unwrap_or(&f.origin));
            out.push_str(&format!(" + {name} ({format}"));
            if let Some(v) = &f.version {
                out.push_str(&format!(" {v}"));
            }
            if let Some(d) = &f.retrieved {
                out.push_str(&format!(", {d}"));
            }
            out.push(')');
        }
        out
    }
}

/// The fields whose values differ between two entries of one model.
fn field_changes(before: &ModelPrice, after: &ModelPrice) -> Vec<FieldChange> {
    let as_map = |p: &ModelPrice| match serde_json::to_value(p) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (b, a) = (as_map(before), as_map(after));
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        // Whether the source still lists a model is bookkeeping, not a price.
        .filter(|k| !matches!(k.as_str(), "name" | "deprecated" | "last_seen"))
        .filter_map(|k| {
            let (x, y) = (
                b.get(k).cloned().unwrap_or_default(),
                a.get(k).cloned().unwrap_or_default(),
            );
            (x != y).then(|| FieldChange {
                field: k.clone(),
                before: x,
                after: y,
            })
        })
        .collect()
}
