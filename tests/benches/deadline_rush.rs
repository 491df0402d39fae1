//! The deadline-day rush on one machine. The real server (release build, the embedded default:
//! SQLite and blobs on local disk) runs as its own process; this process drives it over loopback
//! with core's real client: candidates who sign in, read their materials page, upload 8 photos of
//! 100-200 KB each under idempotency keys and submit, 64 of them at a time; meanwhile one
//! candidate keeps reading their page and two site reviewers page their queue. Printed: uploads/s
//! and its ratio to this disk's fsync ceiling measured in the same run (write + fsync + rename +
//! directory fsync of 150 KB files, the least a durable upload costs), p50/p95/p99 per endpoint,
//! errors, the server's CPU and peak memory, and its CPU per acknowledged upload against the
//! floor measured in the same run: this process doing only what an upload cannot skip (SHA-256,
//! the validation decode, the durable write of the same bytes to the same store).
//!
//! Closed loop: each uploader sends its next request when the last is answered, so latencies are
//! service times at 64 in flight; the overload behaviour (refusing fast beyond capacity) is
//! `tests/operations.rs`.
//!
//! `cargo bench -p dossier-tests --bench deadline_rush` (DOSSIER_RUSH_CANDIDATES, default 384;
//! DOSSIER_RUSH_ANALYSIS=on to read the documents for the reviewers meanwhile, as a server does by
//! default when Tesseract is installed; off by default, so the figures compare with earlier runs;
//! DOSSIER_RUSH_BLOBS=s3 to keep the photos in an S3-compatible object store instead of the
//! folder: SeaweedFS on loopback, sharing the machine's cores, as `tests/object_store.rs` runs it;
//! DOSSIER_RUSH_DB=postgres to keep the metadata in PostgreSQL instead of SQLite: a throwaway
//! cluster on loopback, its own CPU per upload printed beside the server's)
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dossier_core::client::{Client, MemoryTokenStore, UploadRequest};
use dossier_tests::object_store::ObjectStoreServer;
use dossier_tests::{
    PASSWORD, ServerProcess, StaffSession, phone_photos, seed_activated, seeded_username,
};
use uuid::Uuid;

const UPLOADERS: usize = 64;
const PHOTOS: [(&str, u32); 8] = [
    ("id_card", 0),
    ("id_card", 1),
    ("diploma", 0),
    ("degree", 0),
    ("probation", 0),
    ("work_proof", 0),
    ("other", 0),
    ("other", 1),
];

type Samples = Arc<Mutex<BTreeMap<&'static str, Vec<Duration>>>>;

fn record(samples: &Samples, what: &'static str, took: Duration) {
    samples.lock().unwrap().entry(what).or_default().push(took);
}

/// Files of 150 KB made durable one after another as the blob store does, for about a second:
/// the disk's rate for durable uploads, whatever the server does. Also the CPU it took per file
/// (on a VM whose flushes do not reach a platter, the "disk's limit" is partly CPU too).
fn fsync_round(dir: &Path, round: usize) -> (f64, f64) {
    let dir = dir.join(format!("fsync-probe-{round}"));
    fs::create_dir_all(&dir).unwrap();
    let bytes = vec![0x5a_u8; 150 * 1024];
    let (cpu_before, _) = cpu_and_peak(std::process::id());
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(1) {
        let tmp = dir.join(format!("{n}.tmp"));
        let mut f = File::create(&tmp).unwrap();
        f.write_all(&bytes).unwrap();
        f.sync_all().unwrap();
        fs::rename(&tmp, dir.join(format!("{n}"))).unwrap();
        File::open(&dir).unwrap().sync_all().unwrap();
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let (cpu_after, _) = cpu_and_peak(std::process::id());
    // Emptied, not deleted, until the run is over: on ext4 without a journal (this VM's disk) a
    // new file's inode is found by stepping over every inode deleted in the last minutes, one
    // by one, so deleting thousands of files here made each blob the server then wrote cost
    // ~0.3 ms more CPU (9% of the server's CPU in the rush; the floor paid it too).
    for entry in fs::read_dir(&dir).unwrap() {
        File::create(entry.unwrap().path()).unwrap();
    }
    (rate, (cpu_after - cpu_before) / n as f64 * 1000.0)
}

/// Three rounds of `fsync_round`; `first` numbers their folders.
fn fsync_rounds(dir: &Path, first: usize) -> Vec<(f64, f64)> {
    (first..first + 3).map(|r| fsync_round(dir, r)).collect()
}

/// The CPU (ms) the unavoidable work of one upload takes, done by this process alone on `count`
/// photos the rush does not send (other bytes, so every write is a new blob): SHA-256 of the
/// request, `validate_owned` (the server's check, a full decode), and `put` into a blob store of
/// the same kind as the server's (its folder's sibling on this disk, or another prefix in the
/// same bucket). One upload at a time: CPU per upload, not a rate.
async fn floor_round(
    store: &dossier_server::storage::BlobStore,
    bases: &[Vec<u8>],
    round: u32,
    count: u32,
) -> f64 {
    use sha2::{Digest, Sha256};
    let photos: Vec<bytes::Bytes> = (0..count)
        .map(|n| {
            let k = n as usize % bases.len();
            distinct(&bases[k], 100_000 + round * count + n).into()
        })
        .collect();
    let (before, _) = cpu_and_peak(std::process::id());
    for bytes in photos {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let checked = dossier_core::photo::validate_owned(bytes).expect("a valid photo");
        store.put(checked.bytes, Some(sha256)).await.unwrap();
    }
    let (after, _) = cpu_and_peak(std::process::id());
    (after - before) / count as f64 * 1000.0
}

/// A distinct JPEG from a base one: a different value in the last entries of its first
/// quantisation table (still a valid photo; different bytes, so no upload is deduplicated).
fn distinct(base: &[u8], n: u32) -> Vec<u8> {
    let mut jpeg = base.to_vec();
    let at = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xDB])
        .expect("a quantisation table");
    // marker(2) length(2) precision/id(1), then 64 entries.
    let table = at + 5;
    jpeg[table + 63] = 1 + (n % 250) as u8;
    jpeg[table + 62] = 1 + (n / 250 % 250) as u8;
    jpeg
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// CPU seconds of a process and every process it started (PostgreSQL's backends).
fn tree_cpu(root: u32) -> f64 {
    let mut total = 0.0;
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if pid == root || parent == Some(root) {
            total += cpu_and_peak(pid).0;
        }
    }
    total
}

/// (user + system CPU seconds, peak resident MB) of a process.
fn cpu_and_peak(pid: u32) -> (f64, f64) {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0);
    (cpu, peak_kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let candidates: usize = std::env::var("DOSSIER_RUSH_CANDIDATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(384);
    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    // PostgreSQL, when asked: a cluster of its own, started on this thread (it dies with it).
    let postgres = std::env::var("DOSSIER_RUSH_DB")
        .is_ok_and(|v| v == "postgres")
        .then(|| {
            tokio::task::block_in_place(|| {
                let cluster = dossier_tests::postgres_cluster::PostgresCluster::start_durable();
                let url = cluster.create_database();
                (cluster, url)
            })
        });
    eprintln!("seeding {candidates} activated candidates and the demo's staff");
    let db = match &postgres {
        Some((_, url)) => dossier_tests::seed_activated_in(
            dossier_server::storage::Db::connect(url).unwrap(),
            candidates,
        ),
        None => seed_activated(&data, candidates),
    };
    let staff: BTreeMap<String, String> =
        dossier_server::demo::seed_staff(&db, time::OffsetDateTime::now_utc())
            .unwrap()
            .into_iter()
            .collect();
    drop(db);
    eprintln!("preparing photos");
    let bases = Arc::new(phone_photos(8));
    let sizes: Vec<usize> = bases.iter().map(Vec::len).collect();

    let analysis = std::env::var("DOSSIER_RUSH_ANALYSIS").is_ok_and(|v| v == "on");
    let mut env = vec![("DOSSIER_ANALYSIS__ENABLED".into(), analysis.to_string())];
    if let Some((cluster, url)) = &postgres {
        env.push(("DOSSIER_DATABASE__URL".into(), url.clone()));
        eprintln!("metadata in PostgreSQL on port {}", cluster.port);
    }
    let object_store = std::env::var("DOSSIER_RUSH_BLOBS")
        .is_ok_and(|v| v == "s3")
        .then(|| tokio::task::block_in_place(ObjectStoreServer::start));
    if let Some(s3) = &object_store {
        env.extend(s3.env());
        env.push(("DOSSIER_BLOBS__URL".into(), "s3://dossier/rush".into()));
        eprintln!("blobs in SeaweedFS at {}", s3.endpoint);
    }
    // The floor's blob store: the same kind as the server's, not the server's own.
    let floor_store = match &object_store {
        Some(s3) => {
            dossier_server::storage::BlobStore::open_s3("s3://dossier/rush-floor", &s3.config())
                .unwrap()
        }
        None => dossier_server::storage::BlobStore::open(
            &data.join("floor-blobs").display().to_string(),
        )
        .unwrap(),
    };
    let server = ServerProcess::start_with(&data, 0, env);
    let pid = server.pid();
    let base = server.base.clone();
    let samples: Samples = Arc::default();
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));

    // The fsync ceiling on the same disk, just before the rush (and again just after: this VM's
    // rate moves by 2x from minute to minute, so the ratio is given against the median and the
    // range of all six rounds).
    let mut rounds = fsync_rounds(&data, 0);

    // Phase 1: everyone signs in (64 at a time), as on the days before; a phone keeps its
    // session, so the rush itself is uploads. Sign-in is CPU-bound by design (Argon2id).
    let t = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(1));
    let clients = Arc::new(Mutex::new(Vec::new()));
    let signing: Vec<_> = (0..UPLOADERS)
        .map(|_| {
            let (base, samples, errors, next, clients) = (
                base.clone(),
                samples.clone(),
                errors.clone(),
                next.clone(),
                clients.clone(),
            );
            tokio::spawn(async move {
                loop {
                    // Candidate 0 is the steady reader below.
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= candidates {
                        break;
                    }
                    let client = Client::new(&base, Arc::new(MemoryTokenStore::default())).unwrap();
                    let t = Instant::now();
                    match client.login(&seeded_username(i), PASSWORD).await {
                        Ok(_) => {
                            record(&samples, "sign in", t.elapsed());
                            clients.lock().unwrap().push((i, client));
                        }
                        Err(e) => errors.lock().unwrap().push(format!("login: {e}")),
                    }
                }
            })
        })
        .collect();
    for s in signing {
        s.await.unwrap();
    }
    let sign_in_rate = (candidates - 1) as f64 / t.elapsed().as_secs_f64();
    let (_, peak_after_sign_in) = cpu_and_peak(pid);

    // The floor, just before the rush and again just after (see `floor_round`).
    let mut floors = vec![floor_round(&floor_store, &bases, 0, 256).await];

    // Phase 2: the rush.
    let (cpu_before, _) = cpu_and_peak(pid);
    let database_before = postgres.as_ref().map(|(c, _)| tree_cpu(c.pid()));
    let (driver_before, _) = cpu_and_peak(std::process::id());
    let started = Instant::now();
    let uploaders = (0..UPLOADERS).map(|_| {
        let (bases, samples, errors, clients) = (
            bases.clone(),
            samples.clone(),
            errors.clone(),
            clients.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Some((i, client)) = clients.lock().unwrap().pop() else {
                    break;
                };
                let t = Instant::now();
                match client.dossier().await {
                    Ok(_) => record(&samples, "materials page", t.elapsed()),
                    Err(e) => errors.lock().unwrap().push(format!("dossier: {e}")),
                }
                for (k, (category, slot)) in PHOTOS.iter().enumerate() {
                    let jpeg = distinct(&bases[k], i as u32);
                    let t = Instant::now();
                    let request = UploadRequest {
                        category,
                        jpeg,
                        idempotency_key: Uuid::new_v4(),
                        slot: Some(*slot),
                        replaces: None,
                    };
                    match client.upload(&request).await {
                        Ok(_) => record(&samples, "upload", t.elapsed()),
                        Err(e) => errors.lock().unwrap().push(format!("upload: {e}")),
                    }
                }
                let t = Instant::now();
                match client.submit().await {
                    Ok(_) => record(&samples, "submit", t.elapsed()),
                    Err(e) => errors.lock().unwrap().push(format!("submit: {e}")),
                }
            }
        })
    });
    let uploaders: Vec<_> = uploaders.collect();

    // While uploads run: one candidate reads their page, two reviewers page the site queue.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (base, samples, stop) = (base.clone(), samples.clone(), stop.clone());
        tokio::spawn(async move {
            let client = Client::new(&base, Arc::new(MemoryTokenStore::default())).unwrap();
            client.login(&seeded_username(0), PASSWORD).await.unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                client.dossier().await.unwrap();
                record(&samples, "materials page during uploads", t.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let reviewers: Vec<_> = (0..2)
        .map(|_| {
            let (base, samples, stop, password) = (
                base.clone(),
                samples.clone(),
                stop.clone(),
                staff["dongcheng"].clone(),
            );
            tokio::spawn(async move {
                let site = StaffSession::login(&base, "dongcheng", &password).await;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = Instant::now();
                    let (status, _) = site
                        .get("/api/v1/review/queue?stage=site&per_page=50")
                        .await;
                    assert_eq!(status, 200);
                    record(&samples, "review queue page", t.elapsed());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        })
        .collect();

    for u in uploaders {
        u.await.unwrap();
    }
    let wall = started.elapsed();
    // What the reviewers' analysis did meanwhile (the server's own counters).
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metric = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let analysed = metric("dossier_analysis_duration_seconds_count{outcome=\"done\"}");
    let analysis_queue = metric("dossier_analysis_queue ");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.await.unwrap();
    for r in reviewers {
        r.await.unwrap();
    }
    let (cpu_after, peak_mb) = cpu_and_peak(pid);
    let database_after = postgres.as_ref().map(|(c, _)| tree_cpu(c.pid()));
    let (driver_after, _) = cpu_and_peak(std::process::id());
    rounds.extend(fsync_rounds(&data, 3));
    floors.push(floor_round(&floor_store, &bases, 1, 256).await);
    let floor_ms = floors.iter().sum::<f64>() / floors.len() as f64;
    let mut rates: Vec<f64> = rounds.iter().map(|r| r.0).collect();
    rates.sort_by(f64::total_cmp);
    let (lowest, highest) = (rates[0], rates[rates.len() - 1]);
    let ceiling = (rates[(rates.len() - 1) / 2] + rates[rates.len() / 2]) / 2.0;
    let fsync_cpu_ms = rounds.iter().map(|r| r.1).sum::<f64>() / rounds.len() as f64;

    let samples = samples.lock().unwrap();
    let uploads = samples.get("upload").map_or(0, Vec::len);
    let rate = uploads as f64 / wall.as_secs_f64();
    println!(
        "\n## Deadline rush: {} candidates, {UPLOADERS} uploading at once, 8 photos each, analysis {}",
        candidates - 1,
        if analysis { "on" } else { "off" }
    );
    if analysis {
        println!(
            "analysis during the uploads: {analysed:.0} images read, {analysis_queue:.0} waiting at the end"
        );
    }
    println!(
        "photos {}-{} KB; fsync ceiling (150 KB write+fsync+rename+dir fsync, 3 rounds of 1 s before and 3 after): median {ceiling:.0} files/s, range {:.0}-{:.0}, {fsync_cpu_ms:.2} ms of CPU per file",
        sizes.iter().min().unwrap() / 1024,
        sizes.iter().max().unwrap() / 1024,
        lowest,
        highest,
    );
    println!(
        "uploads: {uploads} in {:.1} s = {rate:.0}/s = {:.2}x the median fsync ceiling ({:.2}x-{:.2}x over its range)",
        wall.as_secs_f64(),
        rate / ceiling,
        rate / highest,
        rate / lowest,
    );
    let wall_s = wall.as_secs_f64();
    let per_upload_ms = (cpu_after - cpu_before) / uploads.max(1) as f64 * 1000.0;
    println!(
        "server during the uploads: {:.0}% CPU of one core on average, {per_upload_ms:.2} ms per upload; this driver {:.0}% (2 cores between them); peak RSS {peak_after_sign_in:.0} MB after sign-ins, {peak_mb:.0} MB at the end",
        (cpu_after - cpu_before) / wall_s * 100.0,
        (driver_after - driver_before) / wall_s * 100.0,
    );
    println!(
        "server CPU per acknowledged upload: {per_upload_ms:.2} ms = {:.2}x the floor ({floor_ms:.2} ms: SHA-256, the validation decode and the durable write to the same store, by one process alone; {:.2} and {:.2} ms before and after)",
        per_upload_ms / floor_ms,
        floors[0],
        floors[1],
    );
    if let (Some(before), Some(after)) = (database_before, database_after) {
        println!(
            "PostgreSQL's own CPU per acknowledged upload: {:.2} ms (all its processes; not in the server's figure)",
            (after - before) / uploads.max(1) as f64 * 1000.0
        );
    }
    println!("sign-ins before the rush: {sign_in_rate:.0}/s (Argon2id, 64 at a time)");
    let errors = errors.lock().unwrap();
    println!(
        "errors: {}{}",
        errors.len(),
        errors
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!("\n| endpoint | n | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|");
    for (what, times) in samples.iter() {
        let mut times = times.clone();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {what} | {} | {:.1} | {:.1} | {:.1} |",
            times.len(),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(percentile(&times, 0.99))
        );
    }
    drop(server);
}
