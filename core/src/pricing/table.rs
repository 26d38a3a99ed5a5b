//! The built-in price table, compiled into the library from `pricing/prices.json`.
//!
//! Parsed once, on first use (a few milliseconds for several thousand models), so programs that
//! never price anything pay nothing and no file is needed at run time.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::catalog::{Resolution, ResolvedModel};
use super::model::ModelPrice;
use crate::fasthash::FastMap;

const PRICES_JSON: &str = include_str!("../../../pricing/prices.json");

/// Where the built-in prices come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceSource {
    pub name: String,
    pub package: String,
    pub version: String,
    #[serde(default)]
    pub file: String,
    pub license: String,
    #[serde(default)]
    pub url: String,
    /// The date the table was taken (`YYYY-MM-DD`).
    pub retrieved: String,
    /// Older releases whose dropped models are kept as deprecated.
    #[serde(default)]
    pub older_releases_merged: Vec<String>,
}

#[derive(Deserialize)]
struct PricesFile {
    schema_version: u32,
    source: PriceSource,
    models: Vec<ModelPrice>,
}

/// The parsed built-in table with its lookup indexes.
pub(crate) struct BuiltinTable {
    pub source: PriceSource,
    pub by_name: FastMap<String, ResolvedModel>,
    /// Lower-cased names, for case-insensitive lookups.
    pub by_lower_name: HashMap<String, ResolvedModel>,
    /// Models keyed by the last `/`-segment of their name, for names given without the
    /// provider prefix the table uses (`mistral-large-latest` → `mistral/mistral-large-latest`).
    pub by_last_segment: HashMap<String, Vec<Arc<ModelPrice>>>,
    /// Every name, sorted.
    pub names: Vec<String>,
}

static TABLE: OnceLock<BuiltinTable> = OnceLock::new();

/// The built-in table, parsed on first call.
pub(crate) fn builtin() -> &'static BuiltinTable {
    TABLE.get_or_init(|| {
        let file: PricesFile =
            serde_json::from_str(PRICES_JSON).expect("pricing/prices.json is checked by tests");
        assert_eq!(
            file.schema_version, 1,
            "pricing/prices.json has an unknown schema"
        );
        BuiltinTable::new(file.source, file.models)
    })
}

impl BuiltinTable {
    fn new(source: PriceSource, models: Vec<ModelPrice>) -> BuiltinTable {
        let mut by_name = FastMap::with_capacity_and_hasher(models.len(), Default::default());
        let mut by_lower_name = HashMap::with_capacity(models.len());
        let mut by_last_segment: HashMap<String, Vec<Arc<ModelPrice>>> = HashMap::new();
        let mut names = Vec::with_capacity(models.len());
        for model in models {
            let entry = ResolvedModel::new(Arc::new(model), Resolution::Exact);
            let name = entry.price.name.clone();
            names.push(name.clone());
            by_lower_name
                .entry(name.to_lowercase())
                .or_insert_with(|| entry.clone());
            if let Some((_, last)) = name.rsplit_once('/') {
                by_last_segment
                    .entry(last.to_owned())
                    .or_default()
                    .push(entry.price.clone());
            }
            by_name.insert(name, entry);
        }
        names.sort();
        BuiltinTable {
            source,
            by_name,
            by_lower_name,
            by_last_segment,
            names,
        }
    }
}
