//! Replays every input committed under fuzz/regressions/<target>/ through the same harness
//! the fuzz target runs (fuzz/src, plain Rust), so `make test` keeps each fixed crash fixed
//! without nightly or libFuzzer. A harness panics when an invariant breaks.

#[allow(dead_code, unused_imports)]
#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::path::PathBuf;

fn regressions() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "..", "fuzz", "regressions"]
        .iter()
        .collect()
}

#[test]
fn every_committed_fuzz_input_passes_its_harness() {
    let mut replayed = 0;
    for (target, run) in harness::TARGETS {
        let dir = regressions().join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            eprintln!("replaying {}", path.display());
            run(&data);
            replayed += 1;
        }
    }
    // The directory holds at least the crashes found so far: an empty run proves nothing.
    assert!(replayed > 0, "no input under {}", regressions().display());
}

#[test]
fn every_regression_directory_names_a_target() {
    for entry in std::fs::read_dir(regressions()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().into_string().unwrap();
            assert!(
                harness::TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz/regressions/{name} is not a fuzz target"
            );
        }
    }
}
