//! `uniffi-bindgen` built from this workspace, so it matches the uniffi the library uses.
fn main() {
    uniffi::uniffi_bindgen_main()
}
