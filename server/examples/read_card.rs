//! `cargo run --release -p dossier-server --example read_card -- [--document] IMAGE...`
//! What the server's reader reads off each image (as stored: a candidate's upload), as JSON: an
//! ID card's fields and its fingerprint, or with `--document` (a page of A4: a diploma, a
//! certificate) the fingerprint alone, as reused documents are found. For checking a real photo
//! by hand, or a generated one the tests missed.
use dossier_core::photo::DocumentKind;
use dossier_server::analysis::AnalysisSettings;
use dossier_server::analysis::fingerprint::{Fingerprint, read_document};
use dossier_server::analysis::idcard::read_card;

fn print(path: &str, print: &Fingerprint) {
    println!("{path}: look {:016x}, marks {:?}", print.phash, print.marks);
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let ocr = AnalysisSettings::default().ocr();
    if let Err(e) = ocr.tesseract.available() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let document = args.first().is_some_and(|a| a == "--document");
    if document {
        args.remove(0);
    }
    for path in args {
        let bytes = std::fs::read(&path).expect("read the image");
        if document {
            match read_document(bytes, DocumentKind::A4, &ocr.tesseract).await {
                Ok(fingerprint) => print(&path, &fingerprint),
                Err(e) => println!("{path}: {e}"),
            }
            continue;
        }
        match read_card(bytes, &ocr).await {
            Ok((reading, fingerprint)) => {
                println!("{path}: {}", serde_json::to_string(&reading).unwrap());
                print(&path, &fingerprint);
            }
            Err(e) => println!("{path}: {e}"),
        }
    }
}
