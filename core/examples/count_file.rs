//! Counts the tokens of a file with both encodings (for profilers and quick checks).

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: count_file FILE [REPEAT]");
    let repeat: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let text = std::fs::read_to_string(&path).expect("readable UTF-8 file");
    for enc in [
        wflo_core::tokens::Encoding::O200kBase,
        wflo_core::tokens::Encoding::Cl100kBase,
    ] {
        enc.count("warm up");
        let start = std::time::Instant::now();
        let mut n = 0;
        for _ in 0..repeat {
            n = enc.count(&text);
        }
        let secs = start.elapsed().as_secs_f64() / repeat as f64;
        println!(
            "{}: {n} tokens, {:.1} MB/s",
            enc.name(),
            text.len() as f64 / 1e6 / secs
        );
    }
}
