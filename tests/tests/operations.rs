//! Running it for real: overload refused fast and recovered from, slow clients closed while
//! others are served, SIGTERM finishing what is in flight, a full disk refusing uploads without
//! losing any, a backup taken under load restored and verified, metrics and readiness, and logs
//! without personal data. Each runs the real server binary as a process.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dossier_core::client::{Client, ClientError, MemoryTokenStore, UploadRequest};
use dossier_server::storage::Db;
use dossier_tests::{
    PASSWORD, ServerProcess, StaffSession, fill_required, http, photo, seed_activated,
    seeded_mobile, seeded_username, verdicts,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn signed_in(server: &ServerProcess, i: usize) -> Client {
    let client = Client::new(&server.base, Arc::new(MemoryTokenStore::default())).unwrap();
    client.login(&seeded_username(i), PASSWORD).await.unwrap();
    client
}

/// One photo to "other" under `key`.
async fn upload_jpeg(client: &Client, jpeg: Vec<u8>, key: Uuid) -> Result<(), ClientError> {
    client
        .upload(&UploadRequest {
            category: "other",
            jpeg,
            idempotency_key: key,
            slot: None,
            replaces: None,
        })
        .await
        .map(|_| ())
}

/// A small distinct photo.
async fn upload(client: &Client, seed: u32, key: Uuid) -> Result<(), ClientError> {
    upload_jpeg(client, photo(seed), key).await
}

/// A phone-sized photo (about 150 KB), to fill a small disk quickly.
async fn big_upload(client: &Client, seed: u32, key: Uuid) -> Result<(), ClientError> {
    upload_jpeg(client, dossier_tests::photo_of_size(seed, 1600, 1200), key).await
}

fn cli(data: &Path, args: &[&str]) -> (bool, String) {
    dossier_tests::run_command(data, args, &[])
}

async fn metrics(server: &ServerProcess) -> String {
    http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the first metric line that starts with `prefix` (labels included), summed over
/// lines when several match.
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn beyond_capacity_writes_are_refused_at_once_with_retry_after_and_the_server_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_activated(dir.path(), 1);
    dossier_tests::widen_other(&db, 100);
    drop(db);
    // One write at a time, no waiting: a burst of uploads overflows.
    let server = ServerProcess::start_with(
        dir.path(),
        0,
        env(&[
            ("DOSSIER_LIMITS__MAX_WAITING_WRITES", "1"),
            ("DOSSIER_LIMITS__WRITE_WAIT_MS", "0"),
            ("DOSSIER_LIMITS__RETRY_AFTER_SECS", "3"),
        ]),
    );
    let client = signed_in(&server, 0).await;
    let photos: Vec<_> = (0..32).map(photo).collect();
    let burst = futures::future::join_all(
        photos
            .into_iter()
            .map(|jpeg| upload_jpeg(&client, jpeg, Uuid::new_v4())),
    )
    .await;
    let refused: Vec<_> = burst.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!refused.is_empty(), "the burst overflowed one place");
    // Refused as "busy, come back in 3 s": core's client (and so the phone's queue) reads the
    // 503's Retry-After.
    for e in &refused {
        assert!(matches!(e, ClientError::Busy { status: 503, .. }), "{e}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }
    let accepted = burst.len() - refused.len();
    assert!(accepted > 0, "some went through");
    let text = metrics(&server).await;
    assert!(
        metric(&text, "dossier_writes_refused_total") >= refused.len() as f64,
        "{text}"
    );
    // Reads were never refused, and the server recovers by itself: one at a time, all go through.
    client.dossier().await.expect("reads are not limited");
    for i in 100..104 {
        upload(&client, i, Uuid::new_v4())
            .await
            .expect("accepted once the burst is over");
    }
    let other = client
        .dossier()
        .await
        .unwrap()
        .materials
        .into_iter()
        .find(|m| m.category.code == "other")
        .unwrap();
    assert_eq!(
        other.images.len(),
        accepted + 4,
        "exactly the acknowledged uploads are stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_slow_clients_are_closed_while_everyone_else_is_served() {
    dossier_server::ops::connections::file_limit();
    let dir = tempfile::tempdir().unwrap();
    drop(seed_activated(dir.path(), 1));
    // Short windows so the test is quick: under 64 bytes in 300 ms, twice, is too slow.
    let server = ServerProcess::start_with(
        dir.path(),
        0,
        env(&[
            ("DOSSIER_CONNECTIONS__WINDOW_MS", "300"),
            ("DOSSIER_CONNECTIONS__MIN_BYTES", "64"),
        ]),
    );
    let closed = Arc::new(AtomicUsize::new(0));
    let port = server.port;
    let slow: Vec<_> = (0..1000)
        .map(|_| {
            let closed = closed.clone();
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                    // A request head a byte every 100 ms, as a slowloris sends it; at most 20 s.
                    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n".iter() {
                        if stream.write_all(&[*byte]).is_err() {
                            closed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        let mut buf = [0u8; 64];
                        match stream.read(&mut buf) {
                            // Closed by the server (or answered, which it must not be).
                            Ok(0) => {
                                closed.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                            Ok(_) => return,
                            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                            Err(_) => {
                                closed.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                })
                .unwrap()
        })
        .collect();

    // Meanwhile a candidate signs in and reads the materials page, again and again.
    let client = signed_in(&server, 0).await;
    for _ in 0..20 {
        client
            .dossier()
            .await
            .expect("served while the slow ones trickle");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for t in slow {
        t.join().unwrap();
    }
    assert_eq!(
        closed.load(Ordering::Relaxed),
        1000,
        "every slow client was closed by the server"
    );
    let text = metrics(&server).await;
    assert!(
        metric(
            &text,
            "dossier_connections_dropped_total{outcome=\"too_slow\"}"
        ) >= 1000.0,
        "{text}"
    );
    client.dossier().await.expect("still served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_the_upload_in_flight_refuses_new_connections_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    drop(seed_activated(dir.path(), 1));
    let mut server = ServerProcess::start_with(dir.path(), 0, env(&[("DOSSIER_LOG", "info")]));
    let token = server_login(&server).await;
    let jpeg = photo(7);
    let key = Uuid::new_v4();
    // Half an upload on a raw connection.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let head = format!(
        "POST /api/v1/dossier/materials/other/images HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: {key}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        jpeg.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&jpeg[..jpeg.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let port = server.port;
    let terminated = std::thread::spawn(move || server.terminate().map(|code| (code, server)));
    // Once the signal is in, new connections are refused...
    let mut refused = false;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "no new connections after SIGTERM");
    // ...while the one in flight completes and is stored.
    stream.write_all(&jpeg[jpeg.len() / 2..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let (code, server) = terminated.join().unwrap().expect("exited");
    assert_eq!(code, 0, "a clean exit");
    assert!(server.log().contains("stopped"), "{}", server.log());

    // Stored for good: after a restart, the photo is in the dossier.
    let server = ServerProcess::start(dir.path());
    let client = signed_in(&server, 0).await;
    let dossier = client.dossier().await.unwrap();
    let other = dossier
        .materials
        .iter()
        .find(|m| m.category.code == "other")
        .unwrap();
    assert_eq!(other.images.len(), 1);
    assert_eq!(other.images[0].upload_key, Some(key));
}

async fn server_login(server: &ServerProcess) -> String {
    let r: serde_json::Value = http()
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": seeded_username(0), "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"].as_str().expect("signed in").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_refuses_uploads_loses_none_keeps_reading_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    // A small filesystem of its own (root on the machines this runs on, as CI is).
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(&disk)
        .status()
        .expect("mount runs");
    assert!(mounted.success(), "mounting a small tmpfs needs root");
    let _unmount = Unmount(disk.clone());
    // Room for many photos in a dossier: the test fills the disk, not the slots.
    // The embedded pair on that disk, whatever the suite's configuration: a full local disk is
    // its failure (an object store's is in `object_store.rs`).
    let database = disk.join("dossier.sqlite3").display().to_string();
    let blobs = disk.join("blobs").display().to_string();
    let embedded = env(&[
        ("DOSSIER_DATABASE__URL", &database),
        ("DOSSIER_BLOBS__URL", &blobs),
    ]);
    let db = dossier_tests::seed_activated_in(Db::connect(&database).unwrap(), 1);
    dossier_tests::widen_other(&db, 200);
    drop(db);
    let mut settings = embedded.clone();
    settings.push(("DOSSIER_LOG".into(), "info".into()));
    let server = ServerProcess::start_with(&disk, 0, settings);
    let client = signed_in(&server, 0).await;

    let mut stored = Vec::new();
    let mut refused = None;
    for i in 0..200u32 {
        let key = Uuid::new_v4();
        match big_upload(&client, 1000 + i, key).await {
            Ok(()) => stored.push(key),
            Err(e) => {
                assert!(
                    matches!(e, ClientError::Busy { status: 503, .. }),
                    "disk full is 503: {e}"
                );
                assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
                refused = Some((i, key));
                break;
            }
        }
    }
    let (seed, key) = refused.expect("the disk filled up");
    assert!(!stored.is_empty());
    // Not ready while there is no room for the reserve of uploads (64 photos, 12.8 MB here):
    // a load balancer sends candidates elsewhere instead of to certain 503s.
    let ready = http()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("reserve"));
    // Reads go on: the materials page shows exactly the acknowledged photos.
    let dossier = client.dossier().await.expect("reads served on a full disk");
    let keys: Vec<_> = dossier
        .materials
        .iter()
        .flat_map(|m| &m.images)
        .filter_map(|i| i.upload_key)
        .collect();
    assert_eq!(keys.len(), stored.len());
    assert!(stored.iter().all(|k| keys.contains(k)));
    // No partial file under a final name; every row's file whole.
    let (ok, report) = dossier_tests::run_command(&disk, &["verify"], &embedded);
    assert!(ok, "{report}");
    assert!(server.log().contains("storage unavailable"));

    // Space returns: the refused photo goes up under its key, and more after it.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(grown.success());
    let ready = http()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "ready again with room for the reserve");
    big_upload(&client, 1000 + seed, key)
        .await
        .expect("accepted once there is room");
    big_upload(&client, 5000, Uuid::new_v4())
        .await
        .expect("and the next");
    let (ok, report) = dossier_tests::run_command(&disk, &["verify"], &embedded);
    assert!(ok, "{report}");
    drop(server);
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_uploads_go_on_restores_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    drop(seed_activated(&data, 8));
    let server = ServerProcess::start(&data);
    let mut clients = Vec::new();
    for i in 0..8 {
        let client = signed_in(&server, i).await;
        upload(&client, i as u32, Uuid::new_v4()).await.unwrap();
        clients.push(client);
    }
    // Uploads keep coming from eight candidates while the backup runs.
    let uploading = clients
        .iter()
        .enumerate()
        .map(|(i, client)| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut n = 0;
                for j in 1..6u32 {
                    if upload(&client, (i as u32) * 100 + j, Uuid::new_v4())
                        .await
                        .is_ok()
                    {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect::<Vec<_>>();
    let backup = dir.path().join("backup");
    let (ok, report) = {
        let (data, backup) = (data.clone(), backup.clone());
        tokio::task::spawn_blocking(move || cli(&data, &["backup", backup.to_str().unwrap()]))
            .await
            .unwrap()
    };
    assert!(ok, "{report}");
    let uploaded: usize = futures::future::join_all(uploading)
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert!(uploaded > 0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("backup.json")).unwrap()).unwrap();
    let in_backup = manifest["images"].as_u64().unwrap();
    assert!(
        in_backup >= 8,
        "the backup holds at least what was there before it began"
    );

    let (ok, report) = cli(&backup, &["verify", backup.to_str().unwrap()]);
    assert!(ok, "{report}");
    // A damaged copy is caught.
    let restored = dir.path().join("restored");
    let (ok, report) = cli(&restored, &["restore", backup.to_str().unwrap()]);
    assert!(ok, "{report}");
    drop(server);

    // The restored server serves every image the backup holds, byte for byte.
    let server = ServerProcess::start(&restored);
    let mut seen = 0;
    let mut last_sha = None;
    for i in 0..8 {
        let client = signed_in(&server, i).await;
        for material in client.dossier().await.unwrap().materials {
            for image in material.images {
                let bytes = client.image_bytes(image.id).await.unwrap();
                assert_eq!(dossier_tests::sha256_hex(&bytes), image.sha256);
                seen += 1;
                last_sha = Some(image.sha256);
            }
        }
    }
    assert_eq!(seen as u64, in_backup);

    // Verify notices a blob changed (in the folder, or the object store, of the configuration).
    let store = dossier_tests::blob_store_of(&restored);
    let damaged = last_sha.expect("an image");
    match &store {
        dossier_server::storage::BlobStore::Folder(folder) => {
            let victim = dossier_server::storage::blobs::blob_path(folder.root(), &damaged);
            std::fs::remove_file(&victim).unwrap();
            std::fs::write(&victim, b"not the photo").unwrap();
        }
        dossier_server::storage::BlobStore::Objects(_) => {
            store
                .put(b"not the photo".to_vec().into(), Some(damaged.clone()))
                .await
                .unwrap();
        }
    }
    drop(server);
    let (ok, report) = cli(&restored, &["verify"]);
    assert!(!ok && report.contains("corrupt"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logs_name_each_request_once_and_hold_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_activated(dir.path(), 3);
    let passwords: std::collections::BTreeMap<String, String> =
        dossier_server::demo::seed_staff(&db, OffsetDateTime::now_utc())
            .unwrap()
            .into_iter()
            .collect();
    drop(db);
    // Debug logs, notifications to the log channel (no providers), the SMS due at once.
    let server = ServerProcess::start_with(
        dir.path(),
        0,
        env(&[
            ("DOSSIER_LOG", "debug"),
            ("DOSSIER_NOTIFY__SMS_AFTER_SECS", "0"),
            ("DOSSIER_NOTIFY__POLL_INTERVAL_MS", "50"),
        ]),
    );
    assert_eq!(
        http()
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Candidates sign in (one mistypes first), upload, submit; the site returns one material.
    let wrong = http()
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": seeded_username(0), "password": "Wrong-2026x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    for i in 0..3 {
        let client = signed_in(&server, i).await;
        fill_required(&client).await;
        client.submit().await.unwrap();
    }
    let site = StaffSession::login(&server.base, "dongcheng", &passwords["dongcheng"]).await;
    let id: String = server
        .database()
        .query_row(
            "SELECT id FROM candidates WHERE username = ?1",
            [seeded_username(0)],
            |r| r.get(0),
        )
        .unwrap();
    let (status, body) = site
        .post(&format!("/api/v1/review/dossiers/{id}/claim"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, dossier) = site.get(&format!("/api/v1/review/dossiers/{id}")).await;
    let materials = verdicts(
        &dossier,
        Some(("diploma", "毕业证书照片模糊，请重新拍摄上传。")),
    );
    let (status, body) = site
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            json!({"version": dossier["version"], "materials": materials, "outcome": "return"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The SMS (no phone registered: at once) goes to the log channel, the number masked.
    let masked = "139****0000";
    for _ in 0..100 {
        if server.log().contains(masked) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.log();
    assert!(log.contains(masked), "the SMS was logged, masked");

    // One line per request, with its id and route pattern.
    assert!(log.lines().any(|l| l.contains("request{id=")
        && l.contains("route=/api/v1/auth/login")
        && l.contains("status=401")));
    let decision = log
        .lines()
        .find(|l| l.contains("/decision") && l.contains("status=200"));
    assert!(
        decision.is_some_and(|l| !l.contains(&id)),
        "the route's pattern, not the candidate's path: {decision:?}"
    );
    // Nobody's ID number, phone, password or token.
    for i in 0..3 {
        let id_number = format!("1101011990010{i:05}");
        assert!(
            !log.contains(&id_number),
            "ID number {id_number} in the log"
        );
        assert!(
            !log.contains(&seeded_mobile(i)),
            "phone {} in the log",
            seeded_mobile(i)
        );
    }
    assert!(!log.contains(PASSWORD) && !log.contains("Wrong-2026x"));
    assert!(!log.contains(&passwords["dongcheng"]));
    assert!(!log.to_lowercase().contains("bearer "));

    // The metrics saw it all: requests by route and status, uploads, the queues, the outbox.
    let text = metrics(&server).await;
    assert!(
        metric(
            &text,
            "dossier_http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"401\"}"
        ) >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, "dossier_uploads_total{outcome=\"stored\"}") >= 15.0,
        "{text}"
    );
    assert!(
        metric(&text, "dossier_review_dossiers{stage=\"site\"") >= 2.0,
        "{text}"
    );
    assert!(text.contains("dossier_http_request_duration_seconds_bucket"));
    assert_eq!(
        metric(
            &text,
            "dossier_outbox_notifications{channel=\"sms\",state=\"failed\"}"
        ),
        0.0,
        "{text}"
    );
    assert!(
        text.contains("dossier_outbox_notifications{channel=\"push\",state=\"pending\"}"),
        "{text}"
    );
}
