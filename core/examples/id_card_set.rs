//! `cargo run --release -p dossier-core --example id_card_set -- OUT_DIR [COUNT] [FIRST_SEED]`
//! Writes generated photos of ID cards (`core/tests/scenes/idcard.rs`), front and back of each
//! holder: `id-SEED-front.jpg` as the phone took it, `id-SEED-front-upload.jpg` after the phone's
//! pipeline (what the server stores and reads), and `id-SEED-front.json` with the card drawn
//! (name, number, validity, authority). For looking at what the assistance tests read, and for
//! the web tests' fixtures.
#[path = "../tests/scenes/mod.rs"]
mod scenes;

use dossier_core::photo::{DocumentKind, PhotoSource, PrepareOptions, prepare};
use scenes::idcard::{Side, id_photo};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: id_card_set OUT_DIR [COUNT] [FIRST_SEED]");
        std::process::exit(2);
    };
    let count: u64 = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(8);
    let first: u64 = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(1000);
    std::fs::create_dir_all(out).expect("create the output folder");
    let options = PrepareOptions {
        document: DocumentKind::IdCard,
        ..PrepareOptions::default()
    };
    for seed in first..first + count {
        for (side, label) in [(Side::Front, "front"), (Side::Back, "back")] {
            let shot = id_photo(seed, side);
            let name = format!("{out}/id-{seed}-{label}");
            std::fs::write(format!("{name}.jpg"), &shot.jpeg).expect("write the photo");
            let prepared = prepare(PhotoSource::Bytes(&shot.jpeg), &options)
                .expect("the pipeline prepares it");
            std::fs::write(format!("{name}-upload.jpg"), &prepared.jpeg).expect("write the upload");
            let card = &shot.card;
            let truth = serde_json::json!({
                "name": card.name,
                "number": card.number,
                "authority": card.authority,
                "validity": card.validity_text(),
                "page": format!("{:?}", prepared.page.framing),
            });
            std::fs::write(format!("{name}.json"), truth.to_string()).expect("write the truth");
        }
    }
}
