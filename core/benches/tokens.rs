//! Token counting throughput (MB/s) on ~5 MB of English prose and of source code, for both
//! encodings, and on a 1 KB slice of each (a prompt's size, counted without the piece cache).
//! The corpora come from `bench/corpus.py` (text that ships on the machine); set
//! `WFLO_CORPUS_DIR` (`make bench` builds them there first).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wflo_core::tokens::Encoding;

fn corpus(name: &str) -> Option<String> {
    let dir = std::env::var_os("WFLO_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            [env!("CARGO_MANIFEST_DIR"), "..", "target", "wflo-corpus"]
                .iter()
                .collect()
        });
    std::fs::read_to_string(dir.join(format!("{name}.txt"))).ok()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tokens");
    group.sample_size(10);
    for name in ["prose", "code"] {
        let Some(text) = corpus(name) else {
            eprintln!("no {name} corpus: run `python3 bench/corpus.py target/wflo-corpus` first");
            continue;
        };
        group.throughput(Throughput::Bytes(text.len() as u64));
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            enc.count(&text); // builds the tables, the vocabulary too
            group.bench_function(format!("{}/{name}", enc.name()), |b| {
                b.iter(|| black_box(enc.count(black_box(&text))))
            });
        }
        let mut cut = 1024;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let slice = &text[..cut];
        group.throughput(Throughput::Bytes(slice.len() as u64));
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            group.bench_function(format!("{}/{name}-1k", enc.name()), |b| {
                b.iter(|| black_box(enc.count(black_box(slice))))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
