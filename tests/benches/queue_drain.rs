//! The phone's queue on loopback: what an enqueue costs, and the time and peak memory of draining
//! 200 queued photos, each against a peer measured in the same run.
//!
//! `cargo bench -p dossier-tests --bench queue_drain`
//!
//! - enqueue: one durable enqueue (WAL, synchronous=FULL) against the floor of durability on this
//!   disk: writing the same bytes to a file and fsyncing it.
//! - drain: the phone process (`dossier-test-phone`) draining 200 photos against the same photos
//!   uploaded straight through core's client, 3 at a time, with no queue (to a second candidate).
//! - memory: the draining process's peak RSS against the same app started with nothing to send,
//!   and against the bytes it had queued.
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dossier_core::client::{Client, FileTokenStore, MemoryTokenStore, UploadRequest};
use dossier_core::queue::Queue;
use dossier_tests::{
    PASSWORD, ServerProcess, binary, phone_photos, seed_activated, seeded_username, widen_other,
};

const PHOTOS: u32 = 200;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = seed_activated(dir.path(), 2);
    widen_other(&db, PHOTOS + 10);
    drop(db);
    let server = ServerProcess::start(dir.path());

    println!("preparing {PHOTOS} photos...");
    let photos = phone_photos(PHOTOS);
    let queued_bytes: usize = photos.iter().map(Vec::len).sum();

    // Enqueue, against write + fsync of the same bytes.
    let phone = tempfile::tempdir().expect("temp dir");
    let (queue_file, token_file) = (
        phone.path().join("queue.sqlite3"),
        phone.path().join("tokens.json"),
    );
    let queue = Queue::open(&queue_file).expect("queue");
    let started = Instant::now();
    for p in &photos {
        queue.enqueue("other", p, None, None).expect("enqueued");
    }
    let enqueue = started.elapsed() / PHOTOS;
    drop(queue);
    let started = Instant::now();
    for (i, p) in photos.iter().enumerate() {
        use std::io::Write;
        let mut f = std::fs::File::create(phone.path().join(format!("peer-{i}"))).unwrap();
        f.write_all(p).unwrap();
        f.sync_all().unwrap();
    }
    let fsync = started.elapsed() / PHOTOS;

    // Drain in the phone process, against direct uploads.
    runtime.block_on(async {
        let client =
            Client::new(&server.base, Arc::new(FileTokenStore(token_file.clone()))).unwrap();
        client.login(&seeded_username(0), PASSWORD).await.unwrap();
    });
    let phone_app = || {
        let output = Command::new(binary("dossier-test-phone"))
            .arg(&server.base)
            .arg(&queue_file)
            .arg(&token_file)
            .stderr(Stdio::inherit())
            .output()
            .expect("phone runs");
        assert!(output.status.success(), "the phone process failed");
        peak_rss_kb(&String::from_utf8_lossy(&output.stdout))
    };
    let started = Instant::now();
    let peak_rss_kb = phone_app();
    let drain = started.elapsed();
    // The same app started again with nothing left to send: its baseline.
    let idle_rss_kb = phone_app();

    let direct = runtime.block_on(async {
        let client = Client::new(&server.base, Arc::new(MemoryTokenStore::default())).unwrap();
        client.login(&seeded_username(1), PASSWORD).await.unwrap();
        let started = Instant::now();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let worker = || async {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(p) = photos.get(i) else { break };
                client
                    .upload(&UploadRequest {
                        category: "other",
                        jpeg: p.clone(),
                        idempotency_key: uuid::Uuid::new_v4(),
                        slot: None,
                        replaces: None,
                    })
                    .await
                    .expect("uploaded");
            }
        };
        futures::future::join_all((0..3).map(|_| worker())).await;
        started.elapsed()
    });

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!();
    println!("| what | queue | peer | ratio |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| one enqueue ({} KB average) | {:.2} ms | write + fsync {:.2} ms | {:.2}x |",
        queued_bytes / PHOTOS as usize / 1024,
        ms(enqueue),
        ms(fsync),
        enqueue.as_secs_f64() / fsync.as_secs_f64()
    );
    println!(
        "| drain {PHOTOS} photos (app process) | {:.0} ms | direct uploads {:.0} ms | {:.2}x |",
        ms(drain),
        ms(direct),
        drain.as_secs_f64() / direct.as_secs_f64()
    );
    println!(
        "| peak RSS of the draining app | {:.1} MB | the app with nothing to send {:.1} MB | {:.2}x |",
        peak_rss_kb / 1024.0,
        idle_rss_kb / 1024.0,
        peak_rss_kb / idle_rss_kb
    );
    println!(
        "| peak RSS of the draining app | {:.1} MB | {:.1} MB queued | {:.2}x |",
        peak_rss_kb / 1024.0,
        queued_bytes as f64 / 1048576.0,
        peak_rss_kb * 1024.0 / queued_bytes as f64
    );
}

/// The "peak RSS N kB" the phone process reports of itself.
fn peak_rss_kb(stdout: &str) -> f64 {
    stdout
        .split("peak RSS")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the phone reports its peak RSS")
}
