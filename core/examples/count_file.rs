//! Counts the tokens of a file with both encodings (for profilers and quick checks); with
//! `WFLO_BENCH_JSON=1`, one JSON line for `make bench`:
//! `{"o200k_base": {"tokens": N, "mb_s": X}, "cl100k_base": {...}}`.
//!
//! `count_file FILE [REPEAT]`

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: count_file FILE [REPEAT]");
    let repeat: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let json = std::env::var_os("WFLO_BENCH_JSON").is_some();
    let text = std::fs::read_to_string(&path).expect("readable UTF-8 file");
    // A warm-up on a slice, as the Python and Node contenders of `make bench` do.
    let mut cut = text.len().min(20_000);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut figures = serde_json::Map::new();
    for enc in [
        wflo_core::tokens::Encoding::O200kBase,
        wflo_core::tokens::Encoding::Cl100kBase,
    ] {
        enc.count(&text[..cut]);
        let start = std::time::Instant::now();
        let mut n = 0;
        for _ in 0..repeat {
            n = enc.count(&text);
        }
        let secs = start.elapsed().as_secs_f64() / repeat as f64;
        let mb_s = text.len() as f64 / 1e6 / secs;
        if !json {
            println!("{}: {n} tokens, {mb_s:.1} MB/s", enc.name());
        }
        figures.insert(
            enc.name().into(),
            serde_json::json!({"tokens": n, "mb_s": mb_s}),
        );
    }
    if json {
        println!("{}", serde_json::Value::Object(figures));
    }
}
