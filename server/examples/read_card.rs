//! `cargo run --release -p dossier-server --example read_card -- IMAGE...`
//! What the server's ID-card reader reads off each image (as stored: a candidate's upload), as
//! JSON: for checking a real photo by hand, or a generated one the tests missed.
use dossier_server::analysis::AnalysisSettings;
use dossier_server::analysis::idcard::read_card;

#[tokio::main]
async fn main() {
    let ocr = AnalysisSettings::default().ocr();
    if let Err(e) = ocr.available() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("read the image");
        match read_card(bytes, &ocr).await {
            Ok(reading) => println!("{path}: {}", serde_json::to_string(&reading).unwrap()),
            Err(e) => println!("{path}: {e}"),
        }
    }
}
