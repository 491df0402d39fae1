//! `cargo run --release -p dossier-core --example diploma_set -- OUT_DIR [COUNT] [SEED]`
//! Writes generated graduation certificates of one class (`core/tests/scenes/diploma.rs`): for
//! each classmate `diploma-N.jpg` as the phone took it, `diploma-N-upload.jpg` after the phone's
//! pipeline (what the server stores and fingerprints) and `diploma-N.json` with the holder and
//! the certificate's number. For looking at what the reused-document tests read.
#[path = "../tests/scenes/mod.rs"]
mod scenes;

use dossier_core::photo::{DocumentKind, PhotoSource, PrepareOptions, prepare};
use scenes::diploma::{Diploma, photo_of};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: diploma_set OUT_DIR [COUNT] [SEED]");
        std::process::exit(2);
    };
    let count: u32 = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(4);
    let seed: u64 = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(2021);
    std::fs::create_dir_all(out).expect("create the output folder");
    let options = PrepareOptions {
        document: DocumentKind::A4,
        ..PrepareOptions::default()
    };
    for index in 0..count {
        let diploma = Diploma::of_class(index, seed);
        let shot = photo_of(&diploma, seed * 1000 + u64::from(index));
        let name = format!("{out}/diploma-{index}");
        std::fs::write(format!("{name}.jpg"), &shot.jpeg).expect("write the photo");
        let prepared =
            prepare(PhotoSource::Bytes(&shot.jpeg), &options).expect("the pipeline prepares it");
        std::fs::write(format!("{name}-upload.jpg"), &prepared.jpeg).expect("write the upload");
        let truth = serde_json::json!({
            "name": diploma.name,
            "number": diploma.number,
            "page": format!("{:?}", prepared.page.framing),
        });
        std::fs::write(format!("{name}.json"), truth.to_string()).expect("write the truth");
    }
}
