//! Beyond one machine: a district moved from the embedded default to PostgreSQL and an
//! S3-compatible store and back (`copy-to`), and two server instances on one PostgreSQL and one
//! SeaweedFS, one of them SIGKILLed under load. Real parts: a throwaway PostgreSQL cluster
//! (`dossier_tests::postgres_cluster`) and SeaweedFS on loopback (`dossier_tests::object_store`).
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dossier_core::client::{Client, MemoryTokenStore, UploadRequest};
use dossier_server::ops::copy::TABLES;
use dossier_server::storage::Db;
use dossier_tests::object_store::ObjectStoreServer;
use dossier_tests::postgres_cluster::PostgresCluster;
use dossier_tests::{
    Database, PASSWORD, ServerProcess, photo, run_command, seed_activated_in, seeded_username,
    sha256_hex, widen_other,
};
use uuid::Uuid;

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A PostgreSQL cluster with one new database, and SeaweedFS; the database's URL. Started on
/// the test's own thread (they die with the thread that started them, not the test's end).
fn real_parts() -> (PostgresCluster, String, ObjectStoreServer) {
    tokio::task::block_in_place(|| {
        let cluster = PostgresCluster::start();
        let url = cluster.create_database();
        (cluster, url, ObjectStoreServer::start())
    })
}

async fn signed_in(server: &ServerProcess, i: usize) -> Client {
    let client = Client::new(&server.base, Arc::new(MemoryTokenStore::default())).unwrap();
    client.login(&seeded_username(i), PASSWORD).await.unwrap();
    client
}

/// Every image each of the first `n` candidates holds: username → (upload key → SHA-256), the
/// bytes read back through `server` and checked against their hash.
async fn holdings(server: &ServerProcess, n: usize) -> BTreeMap<String, BTreeMap<Uuid, String>> {
    let mut all = BTreeMap::new();
    for i in 0..n {
        let client = signed_in(server, i).await;
        let mut mine = BTreeMap::new();
        for material in client.dossier().await.unwrap().materials {
            for image in material.images {
                let bytes = client.image_bytes(image.id).await.unwrap();
                assert_eq!(sha256_hex(&bytes), image.sha256, "a blob read whole");
                mine.insert(image.upload_key.expect("uploaded with a key"), image.sha256);
            }
        }
        all.insert(seeded_username(i), mine);
    }
    all
}

fn row_counts(db: Db) -> Vec<(String, i64)> {
    let db = Database(db);
    TABLES
        .iter()
        .map(|t| {
            let n = db
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            (t.to_string(), n)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copy_to_moves_a_district_to_postgresql_and_s3_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let embedded_dir = dir.path().join("embedded");
    std::fs::create_dir(&embedded_dir).unwrap();
    let database = embedded_dir.join("dossier.sqlite3").display().to_string();
    let blobs = embedded_dir.join("blobs").display().to_string();
    // The embedded pair, named, whatever the suite's configuration.
    let embedded = pairs(&[
        ("DOSSIER_DATABASE__URL", &database),
        ("DOSSIER_BLOBS__URL", &blobs),
    ]);
    drop(seed_activated_in(Db::connect(&database).unwrap(), 4));

    // Four candidates upload three photos each, then the server stops.
    let server = ServerProcess::start_with(&embedded_dir, 0, embedded.clone());
    for i in 0..4 {
        let client = signed_in(&server, i).await;
        for j in 0..3 {
            client
                .upload(&UploadRequest {
                    category: "other",
                    jpeg: photo((i * 10 + j) as u32),
                    idempotency_key: Uuid::new_v4(),
                    slot: None,
                    replaces: None,
                })
                .await
                .unwrap();
        }
    }
    let before = holdings(&server, 4).await;
    drop(server);

    // Every table holds its own name: a table the copy did not know would be left behind.
    let tables: BTreeSet<String> = Database(Db::connect(&database).unwrap())
        .rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )
        .into_iter()
        .collect();
    assert_eq!(
        tables,
        TABLES
            .iter()
            .map(|t| t.to_string())
            .collect::<BTreeSet<_>>()
    );

    // To PostgreSQL and the object store.
    let (_cluster, pg_url, s3) = real_parts();
    let with_s3 = |mut env: Vec<(String, String)>| {
        env.extend(s3.env());
        env
    };
    let (ok, said) = run_command(
        &embedded_dir,
        &["copy-to", &pg_url, "s3://dossier/moved"],
        &with_s3(embedded.clone()),
    );
    assert!(ok, "{said}");
    assert!(said.contains("verified 12 images, 12 files"), "{said}");
    // Into a database that already holds the district: refused, nothing changed.
    let (ok, said) = run_command(
        &embedded_dir,
        &["copy-to", &pg_url, "s3://dossier/again"],
        &with_s3(embedded.clone()),
    );
    assert!(!ok && said.contains("already holds a district"), "{said}");

    // Served from there: the same candidates, passwords and photos, byte for byte.
    let moved_dir = dir.path().join("moved");
    std::fs::create_dir(&moved_dir).unwrap();
    let moved = with_s3(pairs(&[
        ("DOSSIER_DATABASE__URL", &pg_url),
        ("DOSSIER_BLOBS__URL", "s3://dossier/moved"),
    ]));
    let server = ServerProcess::start_with(&moved_dir, 0, moved.clone());
    assert_eq!(holdings(&server, 4).await, before);
    drop(server);
    let (ok, said) = run_command(&moved_dir, &["audit", "verify"], &moved);
    assert!(ok, "the audit chain came along whole: {said}");

    // And back to a SQLite file and a folder: every table's rows (the moved server's sign-ins
    // added sessions and audit entries to what came).
    let back_dir = dir.path().join("back");
    let back_db = back_dir.join("dossier.sqlite3").display().to_string();
    let back_blobs = back_dir.join("blobs").display().to_string();
    let (ok, said) = run_command(&moved_dir, &["copy-to", &back_db, &back_blobs], &moved);
    assert!(ok, "{said}");
    let (there, returned) = (
        row_counts(Db::connect(&pg_url).unwrap()),
        row_counts(Db::connect(&back_db).unwrap()),
    );
    assert_eq!(there, returned);
    let server = ServerProcess::start_with(
        &back_dir,
        0,
        pairs(&[
            ("DOSSIER_DATABASE__URL", &back_db),
            ("DOSSIER_BLOBS__URL", &back_blobs),
        ]),
    );
    assert_eq!(holdings(&server, 4).await, before);
}

/// Upload `jpeg` under `key` until the server acknowledges it (the instance may be down for a
/// while); the attempts that failed.
async fn upload_until_acknowledged(client: &Client, jpeg: Vec<u8>, key: Uuid) -> usize {
    let mut failed = 0;
    let started = Instant::now();
    loop {
        let sent = client
            .upload(&UploadRequest {
                category: "other",
                jpeg: jpeg.clone(),
                idempotency_key: key,
                slot: None,
                replaces: None,
            })
            .await;
        match sent {
            Ok(_) => return failed,
            Err(e) => {
                failed += 1;
                assert!(
                    started.elapsed() < Duration::from_secs(90),
                    "not acknowledged within 90 s: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgresql_and_object_store_lose_nothing_when_one_is_killed() {
    const CANDIDATES: usize = 32;
    const PHOTOS: u32 = 8;
    let (_cluster, pg_url, s3) = real_parts();
    let db = {
        let url = pg_url.clone();
        tokio::task::spawn_blocking(move || {
            let db = seed_activated_in(Db::connect(&url).unwrap(), CANDIDATES);
            widen_other(&db, 20);
            db
        })
        .await
        .unwrap()
    };
    let mut env = pairs(&[
        ("DOSSIER_DATABASE__URL", &pg_url),
        ("DOSSIER_BLOBS__URL", "s3://dossier/district"),
    ]);
    env.extend(s3.env());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = ServerProcess::start_with(dir_a.path(), 0, env.clone());
    let b = ServerProcess::start_with(dir_b.path(), 0, env.clone());

    // Candidates 0, 2, 4, … upload through A, the others through B, eight photos each, all
    // signed in and their photos made before the first is sent.
    let mut clients = Vec::new();
    for i in 0..CANDIDATES {
        clients.push(signed_in(if i % 2 == 0 { &a } else { &b }, i).await);
    }
    let photos = tokio::task::spawn_blocking(|| {
        (0..CANDIDATES as u32 * PHOTOS)
            .map(photo)
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut uploaders = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let mine = photos[i * PHOTOS as usize..(i + 1) * PHOTOS as usize].to_vec();
        uploaders.push(tokio::spawn(async move {
            let (mut sent, mut failed) = (BTreeMap::new(), 0);
            for jpeg in mine {
                let key = Uuid::new_v4();
                let sha = sha256_hex(&jpeg);
                failed += upload_until_acknowledged(&client, jpeg, key).await;
                sent.insert(key, sha);
            }
            (seeded_username(i), sent, failed)
        }));
    }
    // A is SIGKILLed three times while they upload, and started again on its port.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        tokio::task::block_in_place(|| a.restart(Duration::from_millis(300)));
    }
    let (mut acknowledged, mut failed) = (BTreeMap::new(), 0);
    for u in uploaders {
        let (who, sent, attempts) = u.await.unwrap();
        acknowledged.insert(who, sent);
        failed += attempts;
    }
    eprintln!("{failed} upload attempts failed while A was down");
    assert!(
        failed > 0,
        "the kills landed while photos were being uploaded"
    );

    // Each instance serves what either acknowledged, byte for byte, every upload once.
    for server in [&a, &b] {
        let held = holdings(server, CANDIDATES).await;
        assert_eq!(held, acknowledged);
    }
    let twice = Database(db).rows(
        "SELECT upload_key FROM images GROUP BY upload_key HAVING COUNT(*) > 1",
        [],
        |r| r.get::<_, String>(0),
    );
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    drop((a, b));
    let (ok, said) = run_command(Path::new(dir_a.path()), &["verify"], &env);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!("verified {} images", CANDIDATES * PHOTOS as usize)),
        "{said}"
    );
}
