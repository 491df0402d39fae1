//! Benchmark driver: `bench_prepare IN RUNS OUT` runs `prepare` RUNS times on one photo and prints
//! the median time as JSON (peak memory is measured around the process by bench/photo/run.sh).
use std::path::Path;
use std::time::Instant;

use dossier_core::photo::{PhotoSource, PrepareOptions, prepare};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, runs, output) = (
        Path::new(&args[0]),
        args[1].parse::<usize>().unwrap(),
        &args[2],
    );
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let prepared =
            prepare(PhotoSource::Path(input), &PrepareOptions::default()).expect("prepares");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        last = Some(prepared);
    }
    times.sort_by(f64::total_cmp);
    let p = last.unwrap();
    std::fs::write(output, &p.jpeg).unwrap();
    println!(
        "{{\"median_ms\": {:.1}, \"bytes\": {}, \"quality\": {}}}",
        times[times.len() / 2],
        p.jpeg.len(),
        p.quality
    );
}
