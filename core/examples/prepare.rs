//! `cargo run -p dossier-core --release --example prepare -- IN OUT [id_card|a4]`
//! Prepares a photo as the app would and prints what was done and the legibility checks.
use std::path::PathBuf;
use std::time::Instant;

use dossier_core::photo::{DocumentKind, PhotoSource, PrepareOptions, prepare};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(output)) = (args.first(), args.get(1)) else {
        eprintln!("usage: prepare IN OUT [id_card|a4]");
        std::process::exit(2);
    };
    let document = match args.get(2).map(String::as_str) {
        Some("a4") => DocumentKind::A4,
        _ => DocumentKind::IdCard,
    };
    let options = PrepareOptions {
        document,
        ..PrepareOptions::default()
    };
    let started = Instant::now();
    match prepare(PhotoSource::Path(&PathBuf::from(input)), &options) {
        Ok(p) => {
            let took = started.elapsed();
            std::fs::write(output, &p.jpeg).expect("write output");
            let s = &p.source;
            println!(
                "in:  {} {}x{}, {} bytes, EXIF orientation {}{}",
                s.format,
                s.width,
                s.height,
                s.bytes,
                s.orientation,
                if s.converted_icc {
                    ", ICC profile converted to sRGB"
                } else {
                    ""
                }
            );
            println!(
                "out: JPEG {}x{}, {} bytes (budget {}), quality {}, 4:2:0, no metadata",
                p.width,
                p.height,
                p.jpeg.len(),
                options.budget_bytes,
                p.quality
            );
            println!("took {:.0} ms", took.as_secs_f64() * 1000.0);
            let c = &p.checks;
            println!(
                "checks: sharpness {:.0}, brightness {:.0}, contrast {:.0}, effective {:.0} dpi ({:?})",
                c.sharpness, c.brightness, c.contrast, c.effective_dpi, document
            );
            if c.warnings.is_empty() {
                println!("warnings: none");
            } else {
                println!(
                    "warnings: {}",
                    c.warnings
                        .iter()
                        .map(|w| w.code())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        Err(e) => {
            eprintln!("refused ({}): {e}", e.code());
            std::process::exit(1);
        }
    }
}
