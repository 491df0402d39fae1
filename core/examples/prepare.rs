//! `cargo run -p dossier-core --release --example prepare -- IN OUT [id_card|a4] [--whole-frame]
//! [--corners x1,y1,x2,y2,x3,y3,x4,y4] [--no-turn]`
//! Prepares a photo as the app would (the page found and flattened when its outline is clear,
//! turned upright by its content) and prints the corners, what was done and the legibility
//! checks. `--whole-frame` keeps the whole photo; `--corners` flattens inside the given corners
//! (fractions 0..1 of the upright photo, clockwise from the top-left); `--no-turn` leaves the
//! content's orientation to EXIF alone (with `--whole-frame`: the pipeline before page capture).
use std::path::PathBuf;
use std::time::Instant;

use dossier_core::photo::{DocumentKind, Framing, PhotoSource, PrepareOptions, Quad, prepare};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(output)) = (args.first(), args.get(1)) else {
        eprintln!(
            "usage: prepare IN OUT [id_card|a4] [--whole-frame] [--corners x1,y1,...,y4] [--no-turn]"
        );
        std::process::exit(2);
    };
    let document = match args.get(2).map(String::as_str) {
        Some("a4") => DocumentKind::A4,
        _ => DocumentKind::IdCard,
    };
    let flag = |name: &str| args.iter().position(|a| a == name);
    let framing = if let Some(at) = flag("--corners") {
        match args.get(at + 1).map(|list| list.parse::<Quad>()) {
            Some(Ok(quad)) => Framing::Corners(quad),
            _ => {
                eprintln!("--corners takes eight numbers: x1,y1,x2,y2,x3,y3,x4,y4");
                std::process::exit(2);
            }
        }
    } else if flag("--whole-frame").is_some() {
        Framing::WholeFrame
    } else {
        Framing::FindPage
    };
    let options = PrepareOptions {
        document,
        framing,
        turn_by_content: flag("--no-turn").is_none(),
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
            let page = &p.page;
            let corners = page.corners.map_or("none".to_string(), |q| q.to_string());
            println!(
                "page: {} (confidence {:.2}), corners {corners} of the {}x{} upright frame; turned {}° by content",
                page.framing.code(),
                page.confidence,
                page.frame_width,
                page.frame_height,
                page.turned
            );
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
