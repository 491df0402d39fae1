//! The reviewers' queue with a whole district loaded: 100,000 submitted candidates and the
//! metadata of 800,000 images in one district, across 16 exam sites, at every stage and state.
//! The real server (release build, SQLite on local disk) answers over loopback; each figure is
//! the p50/p95 of 300 requests, against the same server's `/healthz` round trip measured in the
//! same run. Target: p95 under 50 ms.
//!
//! `cargo bench -p dossier-tests --bench review_queue`
use std::time::{Duration, Instant};

use dossier_server::demo;
use dossier_server::storage::Db;
use dossier_server::{Application, Settings};
use rand::Rng;
use rand::seq::IndexedRandom;
use rusqlite::params;
use time::OffsetDateTime;
use uuid::Uuid;

const CANDIDATES: usize = 100_000;
const SITES: usize = 16;
const SAMPLES: usize = 300;
/// 8 images a candidate: ID card front and back, diploma, degree, probation, work proof, two
/// others.
const IMAGES: [(&str, i64); 8] = [
    ("id_card", 0),
    ("id_card", 1),
    ("diploma", 0),
    ("degree", 0),
    ("probation", 0),
    ("work_proof", 0),
    ("other", 0),
    ("other", 1),
];

fn site_name(i: usize) -> String {
    // The demo's reviewer of 东城区考点 sees site 0.
    if i == 0 {
        "东城区考点".into()
    } else {
        format!("第{i}考点")
    }
}

/// Load the district straight into the database (the server's own schema, its migrations run by
/// `Db::open`). Returns the ids of site 0's candidates.
fn load(db: &Db) -> Vec<Uuid> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut site0 = Vec::new();
    db.blocking_write(|tx| {
        let mut rng = rand::rng();
        let mut candidate = tx.prepare(
            "INSERT INTO candidates (id, district, username, name, id_number, exam_category, exam_site,
                 mobile, attributes_json, dossier_state, submitted_at, version, activated_at)
             VALUES (?1, 'demo', ?2, ?3, ?4, '临床执业医师', ?5, ?6, '{}', ?7, ?8, ?9, ?8)",
        )?;
        let mut material = tx.prepare(
            "INSERT OR IGNORE INTO materials (candidate_id, category, state) VALUES (?1, ?2, ?3)",
        )?;
        let mut image = tx.prepare(
            "INSERT INTO images (id, candidate_id, category, slot, sha256, bytes, width, height,
                 content_type, uploaded_at, upload_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1600, 1200, 'image/jpeg', ?7, ?8)",
        )?;
        let mut review = tx.prepare(
            "INSERT INTO reviews (candidate_id, district, exam_site, stage, state, resubmitted, entered_at)
             VALUES (?1, 'demo', ?2, ?3, ?4, ?5, ?6)",
        )?;
        for i in 0..CANDIDATES {
            let id = Uuid::new_v4();
            let site = i % SITES;
            if site == 0 {
                site0.push(id);
            }
            let (stage, state, material_state) = match rng.random_range(0..100) {
                0..55 => ("site", "waiting", "submitted"),
                55..65 => ("site", "returned", "returned"),
                65..70 => ("site", "pending", "submitted"),
                70..92 => ("district", "waiting", "approved"),
                _ => ("done", "approved", "approved"),
            };
            let resubmitted = rng.random_bool(0.1);
            let entered = now - rng.random_range(0..30 * 86400);
            candidate.execute(params![
                id.to_string(),
                format!("2026{i:09}"),
                format!("考生{i}"),
                format!("11010119900101{:04}", i % 10_000),
                site_name(site),
                format!("139{i:08}"),
                if state == "returned" { "returned" } else { "submitted" },
                entered,
                1 + resubmitted as i64,
            ])?;
            for (category, slot) in IMAGES {
                material.execute(params![id.to_string(), category, material_state])?;
                image.execute(params![
                    Uuid::new_v4().to_string(),
                    id.to_string(),
                    category,
                    slot,
                    hex::encode(rng.random::<[u8; 32]>()),
                    rng.random_range(120_000..200_000),
                    entered,
                    Uuid::new_v4().to_string(),
                ])?;
            }
            review.execute(params![
                id.to_string(),
                site_name(site),
                stage,
                state,
                resubmitted,
                entered
            ])?;
        }
        Ok::<_, dossier_server::storage::StorageError>(())
    })
    .expect("loaded");
    site0
}

/// Site 0's candidates of an already loaded database.
fn site_candidates(db: &Db) -> Vec<Uuid> {
    db.blocking_write(|tx| {
        let mut stmt = tx.prepare("SELECT candidate_id FROM reviews WHERE exam_site = ?1")?;
        let ids = stmt
            .query_map([site_name(0)], |r| r.get::<_, String>(0))?
            .map(|id| Ok(id?.parse().expect("a uuid")))
            .collect::<Result<Vec<Uuid>, rusqlite::Error>>()?;
        Ok::<_, dossier_server::storage::StorageError>(ids)
    })
    .expect("site 0's candidates")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Figure {
    what: &'static str,
    p50: Duration,
    p95: Duration,
}

async fn measure(
    http: &reqwest::Client,
    what: &'static str,
    mut url: impl FnMut() -> String,
    token: Option<&str>,
) -> Figure {
    let mut times = Vec::with_capacity(SAMPLES);
    for n in 0..SAMPLES + 20 {
        let mut request = http.get(url());
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let started = Instant::now();
        let response = request.send().await.expect("answered");
        let status = response.status();
        let body = response.bytes().await.expect("body");
        let took = started.elapsed();
        assert!(status.is_success(), "{what}: {status} {body:?}");
        // The first 20 warm the connection and the page cache.
        if n >= 20 {
            times.push(took);
        }
    }
    times.sort();
    Figure {
        what,
        p50: percentile(&times, 0.5),
        p95: percentile(&times, 0.95),
    }
}

async fn sign_in(http: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let answer: serde_json::Value = http
        .post(format!("{base}/api/v1/staff/login"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    answer["access_token"]
        .as_str()
        .expect("signed in")
        .to_string()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // DOSSIER_BENCH_DIR keeps the loaded district for another run (loading takes a while).
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = std::env::var_os("DOSSIER_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    let loaded = data_dir.join("dossier.sqlite3").exists();
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.clone(),
        log: "warn".into(),
        ..Settings::default()
    };
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let db = Db::connect(&settings.database_url()).expect("database");
    if !loaded {
        demo::seed(&db, OffsetDateTime::now_utc()).expect("demo district");
    }
    let passwords: std::collections::HashMap<String, String> =
        demo::seed_staff(&db, OffsetDateTime::now_utc())
            .expect("staff")
            .into_iter()
            .collect();
    let site0 = if loaded {
        site_candidates(&db)
    } else {
        println!(
            "loading {CANDIDATES} candidates and {} images...",
            CANDIDATES * IMAGES.len()
        );
        let started = Instant::now();
        let site0 = load(&db);
        db.blocking_write(|tx| tx.execute_batch("ANALYZE"))
            .expect("analysed");
        println!("loaded in {:.1} s", started.elapsed().as_secs_f64());
        site0
    };
    drop(db);

    runtime.block_on(async {
        let app = Application::build(settings).await.expect("server builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let server = tokio::spawn(app.run_until_stopped());
        let http = dossier_tests::http();
        let site = sign_in(&http, &base, "dongcheng", &passwords["dongcheng"]).await;
        let district = sign_in(&http, &base, "district", &passwords["district"]).await;
        let mut rng = rand::rng();
        let queue = |q: &str| format!("{base}/api/v1/review/queue?{q}");
        let figures = vec![
            measure(&http, "healthz (peer)", || format!("{base}/healthz"), None).await,
            measure(
                &http,
                "site reviewer: site queue, first page of 50",
                || queue("stage=site"),
                Some(&site),
            )
            .await,
            measure(
                &http,
                "site reviewer: resubmitted, waiting",
                || queue("stage=site&state=waiting&resubmitted=true"),
                Some(&site),
            )
            .await,
            measure(
                &http,
                "district reviewer: all sites' queue, first page",
                || queue("stage=site"),
                Some(&district),
            )
            .await,
            measure(
                &http,
                "district reviewer: district stage, page 40",
                || queue("stage=district&page=40"),
                Some(&district),
            )
            .await,
            measure(
                &http,
                "district reviewer: one site, returned",
                || queue("stage=site&state=returned&exam_site=%E7%AC%AC7%E8%80%83%E7%82%B9"),
                Some(&district),
            )
            .await,
            measure(
                &http,
                "site reviewer: open a dossier (8 images)",
                || {
                    format!(
                        "{base}/api/v1/review/dossiers/{}",
                        site0.choose(&mut rng).expect("some")
                    )
                },
                Some(&site),
            )
            .await,
        ];
        server.abort();
        let peer = figures[0].p50;
        println!();
        println!("| request | p50 | p95 | p50 / healthz p50 |");
        println!("|---|---|---|---|");
        for f in &figures {
            println!(
                "| {} | {:.2} ms | {:.2} ms | {:.1}x |",
                f.what,
                f.p50.as_secs_f64() * 1e3,
                f.p95.as_secs_f64() * 1e3,
                f.p50.as_secs_f64() / peer.as_secs_f64()
            );
        }
        let worst = figures[1..].iter().map(|f| f.p95).max().expect("some");
        println!();
        println!(
            "worst p95 {:.2} ms: {} the 50 ms target",
            worst.as_secs_f64() * 1e3,
            if worst < Duration::from_millis(50) {
                "within"
            } else {
                "OVER"
            }
        );
    });
}
