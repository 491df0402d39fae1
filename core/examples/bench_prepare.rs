//! Benchmark driver: `bench_prepare IN RUNS OUT [default|before]` runs `prepare` RUNS times on one
//! photo and prints the median time as JSON (peak memory is measured around the process by
//! bench/photo/run.sh). `before` is the pipeline before page capture: the whole frame, turned by
//! EXIF only. `default` also times page detection and content orientation on their own: on the
//! whole frame at 2048 px (what `prepare` looks for the page in) and on the flattened result.
use std::path::Path;
use std::time::Instant;

use dossier_core::photo::{Framing, PhotoSource, PrepareOptions, content_turn, find_page, prepare};

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn timed(runs: usize, mut work: impl FnMut()) -> f64 {
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                work();
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, runs, output) = (
        Path::new(&args[0]),
        args[1].parse::<usize>().unwrap(),
        &args[2],
    );
    let before = args.get(3).map(String::as_str) == Some("before");
    let options = if before {
        // No page looked for, EXIF only: what `prepare` did before page capture.
        PrepareOptions {
            framing: Framing::Person,
            ..PrepareOptions::default()
        }
    } else {
        PrepareOptions::default()
    };
    let mut last = None;
    let ms = timed(runs, || {
        last = Some(prepare(PhotoSource::Path(input), &options).expect("prepares"));
    });
    let p = last.unwrap();
    std::fs::write(output, &p.jpeg).unwrap();
    let mut extra = String::new();
    if !before {
        // The parts on their own, outside the measured process's peak (run after it).
        let whole = prepare(
            PhotoSource::Path(input),
            &PrepareOptions {
                framing: Framing::Person,
                budget_bytes: 8 << 20,
                ..PrepareOptions::default()
            },
        )
        .expect("prepares");
        let frame = image::load_from_memory(&whole.jpeg).unwrap().to_rgb8();
        let page = image::load_from_memory(&p.jpeg).unwrap().to_rgb8();
        let detect = timed(runs, || {
            std::hint::black_box(find_page(&frame));
        });
        let turn = timed(runs, || {
            std::hint::black_box(content_turn(&page, dossier_core::photo::DocumentKind::A4));
        });
        extra = format!(
            ", \"page\": \"{}\", \"turned\": {}, \"detect_ms\": {detect:.1}, \"turn_ms\": {turn:.1}",
            p.page.framing.code(),
            p.page.turned
        );
    }
    println!(
        "{{\"median_ms\": {ms:.1}, \"bytes\": {}, \"quality\": {}, \"width\": {}, \"height\": {}{extra}}}",
        p.jpeg.len(),
        p.quality,
        p.width,
        p.height
    );
}
