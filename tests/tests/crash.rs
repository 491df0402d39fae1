//! The server process killed with SIGKILL while many uploads are in flight: after a restart every
//! upload that got a 201 is present and byte-identical, no row lacks its blob, the database passes
//! `PRAGMA integrity_check`, and retrying the rest with their keys stores each photo exactly once.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dossier_core::api::ImageView;
use dossier_core::client::{Client, MemoryTokenStore, UploadRequest};
use dossier_server::auth::{hash_secret_blocking, normalise_answer};
use dossier_server::demo;
use dossier_server::storage::{self, Activation, Db, RosterEntry};
use dossier_tests::{PASSWORD, photo, sha256_hex};
use time::OffsetDateTime;
use uuid::Uuid;

const CANDIDATES: usize = 16;
/// Every slot of the demo catalogue: 2 + 2 + 2 + 3 + 4 + 2 + 5.
const SLOTS: [(&str, u32); 7] = [
    ("id_card", 2),
    ("diploma", 2),
    ("degree", 2),
    ("probation", 3),
    ("assistant_certificate", 4),
    ("work_proof", 2),
    ("other", 5),
];

fn username(i: usize) -> String {
    format!("2026990000{i:03}")
}

fn seed(dir: &std::path::Path) {
    let db = Db::open(&dir.join("dossier.sqlite3")).unwrap();
    let now = OffsetDateTime::now_utc();
    demo::seed(&db, now).unwrap();
    let (password_hash, answer_hash) = (
        hash_secret_blocking(PASSWORD),
        hash_secret_blocking(&normalise_answer("北京")),
    );
    db.blocking_write(|tx| {
        for i in 0..CANDIDATES {
            let entry = RosterEntry {
                username: username(i),
                name: format!("考生{i}"),
                id_number: format!("1101011990010{i:05}"),
                exam_category: "临床执业医师".into(),
                district: demo::DISTRICT.into(),
                exam_site: "东城区考点".into(),
                mobile: None,
                attributes: Default::default(),
            };
            storage::upsert_roster_entry(tx, &entry)?;
            let c = storage::candidate_by_username(tx, &entry.username)?;
            let activation = Activation {
                password_hash: &password_hash,
                security_question: "?",
                security_answer_hash: &answer_hash,
                at: now,
            };
            storage::activate(tx, c.id, &activation)?;
        }
        Ok::<_, storage::StorageError>(())
    })
    .unwrap();
}

/// Start the real server binary on a free port; returns the process and its base URL.
fn start(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dossier-test-server"))
        .arg("serve")
        .env("DOSSIER_DATA_DIR", dir)
        .env("DOSSIER_LISTEN", "127.0.0.1:0")
        .env("DOSSIER_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("Dossier listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

async fn sign_in_all(base: &str) -> Vec<Client> {
    let mut clients = Vec::new();
    for i in 0..CANDIDATES {
        let client = Client::new(base, Arc::new(MemoryTokenStore::default())).unwrap();
        client.login(&username(i), PASSWORD).await.unwrap();
        clients.push(client);
    }
    clients
}

struct Planned {
    candidate: usize,
    category: &'static str,
    key: Uuid,
    jpeg: Vec<u8>,
}

impl Planned {
    fn request(&self) -> UploadRequest<'static> {
        UploadRequest {
            category: self.category,
            jpeg: self.jpeg.clone(),
            idempotency_key: self.key,
            slot: None,
            replaces: None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_uploads_loses_no_acknowledged_upload() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path());
    let (mut server, base) = start(dir.path());

    let clients = sign_in_all(&base).await;
    let mut plan = Vec::new();
    for candidate in 0..CANDIDATES {
        for (category, slots) in SLOTS {
            for _ in 0..slots {
                let seed = plan.len() as u32;
                plan.push(Planned {
                    candidate,
                    category,
                    key: Uuid::new_v4(),
                    jpeg: photo(seed),
                });
            }
        }
    }
    let plan = Arc::new(plan);
    let total = plan.len();

    // All uploads in flight, 48 at a time; SIGKILL once a third are acknowledged.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let semaphore = Arc::new(tokio::sync::Semaphore::new(48));
    let mut tasks = Vec::new();
    for n in 0..total {
        let (plan, clients, acknowledged, semaphore) = (
            plan.clone(),
            clients.clone(),
            acknowledged.clone(),
            semaphore.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.unwrap();
            let p = &plan[n];
            let request = p.request();
            let answer = clients[p.candidate].upload(&request).await;
            if answer.is_ok() {
                acknowledged.fetch_add(1, Ordering::SeqCst);
            }
            (n, answer.ok())
        }));
    }
    while acknowledged.load(Ordering::SeqCst) < total / 3 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let mut acked: Vec<(usize, ImageView)> = Vec::new();
    for task in tasks {
        if let (n, Some(view)) = task.await.unwrap() {
            acked.push((n, view));
        }
    }
    assert!(
        acked.len() >= total / 3 && acked.len() < total,
        "the kill must land mid-flight: {} of {total}",
        acked.len()
    );

    // Restart on the same data.
    let (mut server, base) = start(dir.path());
    let clients = sign_in_all(&base).await;
    // Every acknowledged upload is there, byte for byte.
    for (n, view) in &acked {
        let p = &plan[*n];
        let stored = clients[p.candidate].image_bytes(view.id).await.unwrap();
        assert_eq!(stored, p.jpeg, "upload {n} changed");
        assert_eq!(sha256_hex(&stored), view.sha256);
    }
    // Retry everything with its key: the acknowledged answer the same, the rest land once.
    for (n, p) in plan.iter().enumerate() {
        let request = p.request();
        let view = clients[p.candidate]
            .upload(&request)
            .await
            .unwrap_or_else(|e| panic!("retry of {n}: {e:?}"));
        if let Some((_, first)) = acked.iter().find(|(m, _)| *m == n) {
            assert_eq!(&view, first);
        }
    }
    for (i, client) in clients.iter().enumerate() {
        let images: usize = client
            .dossier()
            .await
            .unwrap()
            .materials
            .iter()
            .map(|m| m.images.len())
            .sum();
        assert_eq!(
            images,
            SLOTS.iter().map(|(_, s)| *s as usize).sum::<usize>(),
            "candidate {i}: each photo exactly once"
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();

    // The database is sound and no row lacks its blob.
    let conn = rusqlite::Connection::open(dir.path().join("dossier.sqlite3")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mut stmt = conn.prepare("SELECT sha256 FROM images").unwrap();
    let hashes: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(hashes.len(), total);
    for sha in hashes {
        let blob = std::fs::read(dir.path().join("blobs").join(&sha[..2]).join(&sha))
            .expect("blob present");
        assert_eq!(sha256_hex(&blob), sha);
    }
}
