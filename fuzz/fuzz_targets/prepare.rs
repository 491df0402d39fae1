//! Any bytes into `prepare`: a result within the budget or a typed error, never a panic or a hang.
#![no_main]
use dossier_core::photo::{PhotoSource, PrepareOptions, UPLOAD_BUDGET_BYTES, prepare};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(photo) = prepare(PhotoSource::Bytes(data), &PrepareOptions::default()) {
        assert!(photo.jpeg.len() <= UPLOAD_BUDGET_BYTES);
    }
});
