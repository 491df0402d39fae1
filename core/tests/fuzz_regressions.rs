//! Inputs the fuzzers (`fuzz/`) found interesting, kept in `fuzz/regressions`, plus the seed
//! corpus: each must give a result within the budget or a typed error, and validating twice
//! must give the same bytes. Runs on every test run, without the fuzzer.
use dossier_core::photo::{PhotoSource, PrepareOptions, UPLOAD_BUDGET_BYTES, prepare, validate};

#[test]
fn fuzzer_inputs_give_a_result_or_a_typed_error() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = 0;
    for dir in ["seeds", "regressions"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            if let Ok(p) = prepare(PhotoSource::Bytes(&bytes), &PrepareOptions::default()) {
                assert!(p.jpeg.len() <= UPLOAD_BUDGET_BYTES);
            }
            if let Ok(v) = validate(&bytes) {
                assert_eq!(validate(&v.bytes).expect("validates again").bytes, v.bytes);
            }
            files += 1;
        }
    }
    assert!(files >= 100, "only {files} inputs found");
}
