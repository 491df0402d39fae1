//! Any bytes into `validate`: accepted only within the budget, never a panic or a hang; what it
//! accepts passes `validate` again unchanged (stripping is idempotent).
#![no_main]
use dossier_core::photo::{UPLOAD_BUDGET_BYTES, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(photo) = validate(data) {
        assert!(photo.bytes.len() <= UPLOAD_BUDGET_BYTES);
        let again = validate(&photo.bytes).expect("a validated photo validates again");
        assert_eq!(again.bytes, photo.bytes);
    }
});
