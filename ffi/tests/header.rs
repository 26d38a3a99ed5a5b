//! The committed header is what cbindgen generates from the sources today (set
//! `WFLO_BLESS=1` to rewrite it), and its version macros match the package version.

use std::path::PathBuf;

fn generate() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap();
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen understands the sources")
        .write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn the_committed_header_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("include")
        .join("wflo.h");
    let fresh = generate();
    if std::env::var("WFLO_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ffi/include/wflo.h is stale: run `make header` and commit it"
    );
}

#[test]
fn version_macros_match_the_package() {
    let v: Vec<u32> = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(
        [
            wflo::WFLO_VERSION_MAJOR,
            wflo::WFLO_VERSION_MINOR,
            wflo::WFLO_VERSION_PATCH
        ],
        [v[0], v[1], v[2]]
    );
    assert_eq!(wflo::WFLO_VERSION_NUMBER, v[0] * 10000 + v[1] * 100 + v[2]);
    let header = generate();
    for (name, value) in [
        ("WFLO_VERSION_MAJOR", v[0]),
        ("WFLO_VERSION_MINOR", v[1]),
        ("WFLO_VERSION_PATCH", v[2]),
        ("WFLO_VERSION_NUMBER", v[0] * 10000 + v[1] * 100 + v[2]),
    ] {
        assert!(
            header.contains(&format!("#define {name} {value}")),
            "{name} missing from the header"
        );
    }
    let reported = unsafe { std::ffi::CStr::from_ptr(wflo::engine::wflo_version()) };
    assert_eq!(reported.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}
