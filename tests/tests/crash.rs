//! The server process killed with SIGKILL while many uploads are in flight: after a restart every
//! upload that got a 201 is present and byte-identical, no row lacks its blob, the database passes
//! `PRAGMA integrity_check`, and retrying the rest with their keys stores each photo exactly once.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dossier_core::api::ImageView;
use dossier_core::client::{Client, MemoryTokenStore, UploadRequest};
use dossier_tests::{PASSWORD, ServerProcess, photo, seed_activated, seeded_username, sha256_hex};
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

async fn sign_in_all(base: &str) -> Vec<Client> {
    let mut clients = Vec::new();
    for i in 0..CANDIDATES {
        let client = Client::new(base, Arc::new(MemoryTokenStore::default())).unwrap();
        client.login(&seeded_username(i), PASSWORD).await.unwrap();
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
    seed_activated(dir.path(), CANDIDATES);
    let mut server = ServerProcess::start(dir.path());
    let base = server.base.clone();

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
    server.kill(); // SIGKILL
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
    let server = ServerProcess::start(dir.path());
    let clients = sign_in_all(&server.base).await;
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
    drop(server);

    // The database is sound and no row lacks its blob.
    let db = dossier_tests::database_of(dir.path());
    let check = db
        .blocking_read(dossier_server::storage::ops::integrity)
        .unwrap();
    assert_eq!(check, "ok");
    let hashes: Vec<String> =
        dossier_tests::Database(db).rows("SELECT sha256 FROM images", [], |r| r.get(0));
    assert_eq!(hashes.len(), total);
    let blobs = dossier_tests::blob_store_of(dir.path());
    for sha in hashes {
        let blob = blobs.read(&sha).await.expect("blob present");
        assert_eq!(sha256_hex(&blob), sha);
    }
}
