//! `cargo run -p uniffi-bindgen -- generate --library <libwflo.so> --language python --out-dir …`:
//! the generator of the same UniFFI version as the scaffolding in libwflo.
fn main() {
    uniffi::uniffi_bindgen_main()
}
