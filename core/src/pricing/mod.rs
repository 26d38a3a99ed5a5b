//! Prices: the built-in table, run-time overrides, and model-name resolution.

mod catalog;
mod model;
mod resolve;
mod table;

pub use catalog::{PriceCatalog, PriceOverrides, Resolution, ResolvedModel};
pub use model::{CacheWrite, ModelPrice, Rates, Tier};
pub use table::PriceSource;
