//! Price-table overrides (`Engine::set_prices_json`), and what the budget does with them: the
//! worst case reserved before a call must cover what the call can then cost.

use wflo_core::pricing::{PriceOverrides, Resolution};
use wflo_core::usage::MAX_TOKENS;
use wflo_core::{CacheWrite, ErrorCode, ModelPrice, PriceCatalog, Usage};

/// The whole input is the overrides' JSON text.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // What Engine::set_prices_json does (the c_abi target drives that entry point itself).
    let Ok(overrides) = PriceOverrides::from_json(text) else {
        return;
    };
    let catalog = PriceCatalog::new();
    let applied = catalog.apply_overrides(&overrides);
    if let Err(e) = applied {
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
        // Every entry is checked before any is applied. (A few: resolving an unknown name
        // ranks suggestions over the whole table, which is slow.)
        for entry in overrides.models.iter().take(2) {
            if let Ok(r) = catalog.resolve(entry.name.trim()) {
                assert_ne!(r.resolution, Resolution::Override, "{}", entry.name);
            }
        }
        return;
    }
    for entry in overrides.models.iter().take(8) {
        let r = catalog
            .resolve(entry.name.trim())
            .expect("an applied price resolves");
        assert_eq!(r.resolution, Resolution::Override);
        check_price(&r.price);
    }
}

/// The reservation invariant for one price: for a prompt of at most `prompt` tokens and at
/// most `cap` completion tokens, no usage costs more than `worst_case(prompt, cap, cache)`,
/// and the clamp policy's output cap fits the amount it was computed for.
pub fn check_price(price: &ModelPrice) {
    let mut prompts = vec![0, 1, 1000, 200_000, MAX_TOKENS];
    // A few tiers suffice to find a wrong boundary; all of them would make inputs slow.
    for t in price.tiers.iter().take(6) {
        prompts.extend([
            t.above.saturating_sub(1),
            t.above,
            t.above.saturating_add(1),
        ]);
    }
    prompts.retain(|p| *p <= MAX_TOKENS);
    for &prompt in &prompts {
        for cap in [0, 1, 4096, MAX_TOKENS] {
            for cache in [
                CacheWrite::None,
                CacheWrite::FiveMinutes,
                CacheWrite::OneHour,
            ] {
                let Ok(worst) = price.worst_case(prompt, cap, cache) else {
                    continue;
                };
                for billed in &prompts {
                    if *billed > prompt {
                        continue;
                    }
                    for usage in usages(*billed, cap, cache) {
                        if let Ok(cost) = price.cost(&usage) {
                            assert!(
                                cost <= worst,
                                "{}: {usage:?} costs {cost}, more than the worst case {worst} \
                                 reserved for a prompt of {prompt} and {cap} output tokens ({cache:?})",
                                price.name
                            );
                        }
                    }
                }
                if let Some(fit) = price.max_affordable_output(prompt, cache, worst) {
                    let clamped = price.worst_case(prompt, fit, cache).unwrap();
                    assert!(
                        clamped <= worst,
                        "{}: clamp {fit} costs {clamped} > {worst}",
                        price.name
                    );
                }
            }
        }
    }
}

/// Ways a provider can bill `prompt` prompt tokens and `cap` completion tokens: all plain, all
/// read from the cache, all written to the cache the request asked for; output or reasoning.
fn usages(prompt: u64, cap: u64, cache: CacheWrite) -> Vec<Usage> {
    let mut prompt_sides = vec![
        Usage {
            input: prompt,
            ..Usage::default()
        },
        Usage {
            cache_read: prompt,
            ..Usage::default()
        },
    ];
    match cache {
        CacheWrite::None => {}
        CacheWrite::FiveMinutes => prompt_sides.push(Usage {
            cache_write_5m: prompt,
            ..Usage::default()
        }),
        CacheWrite::OneHour => prompt_sides.push(Usage {
            cache_write_1h: prompt,
            ..Usage::default()
        }),
    }
    let mut all = Vec::new();
    for p in prompt_sides {
        all.push(Usage { output: cap, ..p });
        all.push(Usage {
            reasoning: cap,
            ..p
        });
    }
    all
}
