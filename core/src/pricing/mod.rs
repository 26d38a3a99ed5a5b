//! Prices: the built-in table, run-time overrides, and model-name resolution.

mod catalog;
mod file;
mod litellm;
mod model;
mod resolve;
mod table;

pub use catalog::{
    FieldChange, LoadedPriceFile, PriceCatalog, PriceChange, PriceChanges, PriceOverride,
    PriceOverrides, PriceTableInfo, Resolution, ResolvedModel,
};
pub use file::{PriceFile, PriceFileFormat, SkippedEntry};
pub use model::{CacheWrite, ModelPrice, Rates, Tier};
pub use table::PriceSource;
