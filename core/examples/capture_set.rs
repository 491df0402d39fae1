//! `cargo run --release -p dossier-core --example capture_set -- OUT_DIR [COUNT] [WIDTH HEIGHT]`
//! Writes the generated document photos the capture tests use (`core/tests/scenes`), each as
//! `scene-NNN.jpg` with `scene-NNN.json`: the document kind, its corners in the upright frame
//! (top-left, top-right, bottom-right, bottom-left), the text rendered in reading order, the
//! quarter turns its content needs and the EXIF orientation stored. For the benchmark's
//! legibility run (`bench/photo/legibility.py`) and for looking at what the tests see.
#[path = "../tests/scenes/mod.rs"]
mod scenes;

use dossier_core::photo::DocumentKind;
use scenes::{Rng, Setup, scene};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: capture_set OUT_DIR [COUNT] [WIDTH HEIGHT]");
        std::process::exit(2);
    };
    let count: u64 = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(24);
    let width: u32 = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(4032);
    let height: u32 = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(3024);
    std::fs::create_dir_all(out).expect("create the output folder");
    for seed in 0..count {
        // The same draws as the tests' set, at the size asked.
        let setup = Setup::random(&mut Rng::new(seed * 7919 + 1), width, height);
        let s = scene(seed, setup);
        let name = format!("scene-{seed:03}");
        std::fs::write(format!("{out}/{name}.jpg"), &s.jpeg).expect("write the photo");
        let truth = serde_json::json!({
            "file": format!("{name}.jpg"),
            "kind": match s.doc.map(|d| d.kind()) {
                Some(DocumentKind::IdCard) => "id_card",
                Some(DocumentKind::A4) => "a4",
                None => "none",
            },
            "doc": s.doc.map(|d| format!("{d:?}")),
            "width": s.width,
            "height": s.height,
            "corners": s.corners.map(|c| c.map(|(x, y)| [x, y])),
            "text": s.text,
            "turn": s.turn as u32 * 90,
            "exif_orientation": s.exif_orientation,
        });
        std::fs::write(
            format!("{out}/{name}.json"),
            serde_json::to_string_pretty(&truth).expect("serialises"),
        )
        .expect("write the truth");
        println!("{name}");
    }
}
