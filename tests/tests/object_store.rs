//! Blobs in an S3-compatible object store: a real one (SeaweedFS on loopback, checking SigV4
//! signatures; `dossier_tests::object_store`), through the blob store's interface and through the
//! real server binary with `DOSSIER_BLOBS__URL=s3://…`.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dossier_core::client::{Client, ClientError, MemoryTokenStore, UploadRequest};
use dossier_server::storage::{BlobStore, StorageError};
use dossier_tests::object_store::ObjectStoreServer;
use dossier_tests::{PASSWORD, ServerProcess, http, photo, seed_activated, seeded_username};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_round_trip_through_an_object_store_and_only_old_orphans_are_swept() {
    let s3 = tokio::task::spawn_blocking(ObjectStoreServer::start)
        .await
        .unwrap();
    let store = BlobStore::open_s3("s3://dossier/district/blobs", &s3.config()).unwrap();
    let kept = store
        .put(b"kept photo".to_vec().into(), None)
        .await
        .unwrap();
    let orphan = store.put(b"orphan".to_vec().into(), None).await.unwrap();
    assert_eq!(store.read(&kept).await.unwrap(), b"kept photo");
    // Content-addressed: the same bytes again are the same blob.
    assert_eq!(
        store
            .put(b"kept photo".to_vec().into(), None)
            .await
            .unwrap(),
        kept
    );
    assert!(matches!(
        store.read(&"0".repeat(64)).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        store.read("not-a-hash").await,
        Err(StorageError::NotFound)
    ));
    assert_eq!(store.free_bytes().await.unwrap(), None);

    // Young blobs stay whatever names them (an upload writes its blob before its row).
    assert_eq!(
        store
            .sweep(Duration::from_secs(3600), |_| false)
            .await
            .unwrap(),
        0
    );
    // S3 keeps times to the second: let both become older than a zero grace.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let named = kept.clone();
    let removed = store
        .sweep(Duration::ZERO, move |sha| sha == named)
        .await
        .unwrap();
    assert_eq!(removed, 1, "only the orphan goes");
    assert_eq!(store.read(&kept).await.unwrap(), b"kept photo");
    // It waits in the trash a grace period, then is gone for good.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let named = kept.clone();
    store
        .sweep(Duration::ZERO, move |sha| sha == named)
        .await
        .unwrap();
    assert!(matches!(
        store.read(&orphan).await,
        Err(StorageError::NotFound)
    ));

    // Two instances: one sweeps an old orphan in the moment another uploads the same bytes
    // and commits a row naming it. The blob comes back: on the next read, or the next sweep.
    let raced = store.put(b"raced".to_vec().into(), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let named = kept.clone();
    let removed = store
        .sweep(Duration::ZERO, move |sha| sha == named)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        store.read(&raced).await.unwrap(),
        b"raced",
        "read back at once"
    );
    let other = store.put(b"raced too".to_vec().into(), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let named = kept.clone();
    store
        .sweep(Duration::ZERO, move |sha| sha == named)
        .await
        .unwrap();
    // Named by a row before the trash is emptied: kept (put back), whoever reads it or not.
    let (k, r, o) = (kept.clone(), raced.clone(), other.clone());
    store
        .sweep(Duration::ZERO, move |sha| sha == k || sha == r || sha == o)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (k, r, o) = (kept.clone(), raced.clone(), other.clone());
    store
        .sweep(Duration::ZERO, move |sha| sha == k || sha == r || sha == o)
        .await
        .unwrap();
    assert_eq!(store.read(&other).await.unwrap(), b"raced too");
    assert_eq!(store.read(&raced).await.unwrap(), b"raced");

    // The server checks signatures: a wrong secret is refused, as trouble with the store.
    let mut forged = s3.config();
    for (key, value) in &mut forged {
        if key == "aws_secret_access_key" {
            *value = "not-the-secret".into();
        }
    }
    let intruder = BlobStore::open_s3("s3://dossier/district/blobs", &forged).unwrap();
    let refused = intruder.read(&kept).await.unwrap_err();
    assert!(
        matches!(refused, StorageError::Objects(_)),
        "a bad signature is refused: {refused}"
    );
    assert!(
        intruder
            .put(b"intruder".to_vec().into(), None)
            .await
            .is_err()
    );
}

async fn signed_in(server: &ServerProcess) -> Client {
    let client = Client::new(&server.base, Arc::new(MemoryTokenStore::default())).unwrap();
    client.login(&seeded_username(0), PASSWORD).await.unwrap();
    client
}

async fn upload(client: &Client, seed: u32, key: Uuid) -> Result<(), ClientError> {
    client
        .upload(&UploadRequest {
            category: "other",
            jpeg: photo(seed),
            idempotency_key: key,
            slot: None,
            replaces: None,
        })
        .await
        .map(|_| ())
}

fn verify(data: &Path, s3: &ObjectStoreServer, url: &str) -> (bool, String) {
    let mut env = s3.env();
    env.push(("DOSSIER_BLOBS__URL".into(), url.into()));
    dossier_tests::run_command(data, &["verify"], &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_are_kept_in_the_object_store_and_a_lost_store_is_503_then_recovers() {
    let mut s3 = tokio::task::spawn_blocking(ObjectStoreServer::start)
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let db = seed_activated(data.path(), 1);
    dossier_tests::widen_other(&db, 20);
    drop(db);
    let url = "s3://dossier/photos";
    let mut env = s3.env();
    env.push(("DOSSIER_BLOBS__URL".into(), url.into()));
    let server = ServerProcess::start_with(data.path(), 0, env);
    let client = signed_in(&server).await;

    let mut stored = Vec::new();
    for seed in 0..3 {
        let key = Uuid::new_v4();
        upload(&client, seed, key).await.expect("stored");
        stored.push((seed, key));
    }
    // Not on the server's disk: in the object store, byte for byte what was sent.
    assert!(!data.path().join("blobs").exists());
    let store = BlobStore::open_s3(url, &s3.config()).unwrap();
    let dossier = client.dossier().await.unwrap();
    let images: Vec<_> = dossier.materials.iter().flat_map(|m| &m.images).collect();
    assert_eq!(images.len(), 3);
    for image in &images {
        let served = client.image_bytes(image.id).await.unwrap();
        let kept = store.read(&hex_sha256(&served)).await.unwrap();
        assert_eq!(kept, served);
    }
    let ready = http()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let (ok, report) = verify(data.path(), &s3, url);
    assert!(ok && report.contains("verified 3 images"), "{report}");

    // The store goes away: uploads are refused with 503 and Retry-After, not acknowledged;
    // readiness says why, so a load balancer stops sending candidates here.
    s3.stop();
    let lost = Uuid::new_v4();
    let refused = upload(&client, 10, lost).await.unwrap_err();
    assert!(
        matches!(refused, ClientError::Busy { status: 503, .. }),
        "a lost object store is 503: {refused}"
    );
    assert!(refused.retry_after().is_some());
    let ready = http()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("blobs"));
    let dossier = client
        .dossier()
        .await
        .expect("the page is served meanwhile");
    let keys: Vec<_> = dossier
        .materials
        .iter()
        .flat_map(|m| &m.images)
        .filter_map(|i| i.upload_key)
        .collect();
    assert_eq!(keys.len(), 3, "nothing acknowledged that was not stored");
    assert!(!keys.contains(&lost));

    // It returns: the refused photo goes up under its key, everything reads back.
    s3 = tokio::task::spawn_blocking(move || {
        s3.restart();
        s3
    })
    .await
    .unwrap();
    upload(&client, 10, lost)
        .await
        .expect("accepted once the store is back");
    let dossier = client.dossier().await.unwrap();
    for image in dossier.materials.iter().flat_map(|m| &m.images) {
        client.image_bytes(image.id).await.expect("readable");
    }
    let (ok, report) = verify(data.path(), &s3, url);
    assert!(ok && report.contains("verified 4 images"), "{report}");
    drop(server);
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
