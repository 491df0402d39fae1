//! The phone's queue when things go wrong: the app killed mid-drain again and again, a network
//! that drops, resets and delays connections, and the server killed mid-drain. Each time the
//! server ends up with every photo exactly once.
//! And one phone shared by two accounts: each photo goes only with the session of the account that
//! queued it.
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dossier_core::client::{Client, FileTokenStore, MemoryTokenStore};
use dossier_core::queue::{DrainOutcome, DrainPolicy, ItemState, Queue, QueueItem, QueueListener};
use dossier_tests::{
    FaultyProxy, PASSWORD, ServerProcess, binary, phone_photos, seed_activated, seeded_username,
    sha256_hex, widen_other,
};
use rand::Rng;

/// A server process with one activated candidate whose "other" category takes `slots` photos.
fn server_with_room_for(dir: &std::path::Path, slots: u32) -> ServerProcess {
    let db = seed_activated(dir, 1);
    widen_other(&db, slots);
    drop(db);
    ServerProcess::start(dir)
}

/// What the server stores for the candidate: (live images, all image rows, distinct keys) and
/// the live images' hashes.
fn stored(server: &ServerProcess) -> (i64, i64, i64, HashSet<String>) {
    let db = server.database();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let live = count("SELECT COUNT(*) FROM images WHERE deleted_at IS NULL");
    let rows = count("SELECT COUNT(*) FROM images");
    let keys = count("SELECT COUNT(DISTINCT upload_key) FROM images");
    let hashes = db
        .rows("SELECT sha256 FROM images", [], |r| r.get(0))
        .into_iter()
        .collect();
    (live, rows, keys, hashes)
}

fn assert_each_once(server: &ServerProcess, queue: &Queue, sent: &[Vec<u8>]) {
    let n = sent.len() as i64;
    let items = queue.items().unwrap();
    assert!(
        items
            .iter()
            .all(|i| matches!(i.state, ItemState::Uploaded { .. })),
        "every item uploaded: {:?}",
        items
            .iter()
            .find(|i| !matches!(i.state, ItemState::Uploaded { .. }))
    );
    let (live, rows, keys, hashes) = stored(server);
    assert_eq!((live, rows, keys), (n, n, n), "each photo exactly once");
    let expected: HashSet<String> = sent.iter().map(|p| sha256_hex(p)).collect();
    assert_eq!(
        hashes, expected,
        "the server holds exactly the photos queued"
    );
    let items = queue.items().unwrap();
    let images: HashSet<_> = items
        .iter()
        .map(|i| match i.state {
            ItemState::Uploaded { image } => image,
            ref other => panic!("item {} ended {other:?}", i.id),
        })
        .collect();
    assert_eq!(images.len(), sent.len(), "every item knows its own image");
}

/// Drain as an app does: when told to retry later, wait for the network callback and go again.
async fn drain_until_done(queue: &Queue, client: &Client) {
    for _ in 0..500 {
        match queue.drain(client, &DrainPolicy::default()).await.unwrap() {
            DrainOutcome::Done => return,
            DrainOutcome::RetryAt(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                queue.retry_now().unwrap();
            }
            other => panic!("drain stopped: {other:?}"),
        }
    }
    panic!("the queue never drained");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_killed_twenty_times_mid_drain_delivers_each_of_70_photos_once() {
    let dir = tempfile::tempdir().unwrap();
    // 70 photos: a run stores a photo and often two or three more before its kill lands, so
    // twenty runs must not empty the queue (with 50, a fast machine emptied it by the 15th).
    const PHOTOS: u32 = 70;
    let server = server_with_room_for(dir.path(), PHOTOS + 10);
    let phone = tempfile::tempdir().unwrap();
    let (queue_file, token_file) = (
        phone.path().join("queue.sqlite3"),
        phone.path().join("tokens.json"),
    );
    let client = Client::new(&server.base, Arc::new(FileTokenStore(token_file.clone()))).unwrap();
    client.login(&seeded_username(0), PASSWORD).await.unwrap();
    let sent = phone_photos(PHOTOS);
    let queue = Queue::open(&queue_file).unwrap();
    for p in &sent {
        queue.enqueue("other", p, None, None).unwrap();
    }
    drop(queue);

    let uploaded_in_queue = || -> i64 {
        rusqlite::Connection::open(&queue_file)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM items WHERE state = 'uploaded'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let phone_app = || {
        let mut command = Command::new(binary("dossier-test-phone"));
        command
            .arg(&server.base)
            .arg(&queue_file)
            .arg(&token_file)
            .stdout(Stdio::null());
        command
    };
    // Each run is killed once it has stored one more photo, plus 0-15 ms, so the kills
    // land at random points of uploads in flight rather than after the drain ended.
    let mut mid_drain = 0;
    for _ in 0..20 {
        let before = uploaded_in_queue();
        let target = before + 1;
        let mut app = phone_app().spawn().expect("the app starts");
        let started = std::time::Instant::now();
        while uploaded_in_queue() < target && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let jitter = Duration::from_millis(rand::rng().random_range(0..15));
        tokio::time::sleep(jitter).await;
        app.kill().unwrap(); // SIGKILL
        app.wait().unwrap();
        if uploaded_in_queue() < PHOTOS as i64 {
            mid_drain += 1;
        }
    }
    let finished = phone_app().status().expect("the app runs");
    assert!(finished.success());
    let queue = Queue::open(&queue_file).unwrap();
    assert_each_once(&server, &queue, &sent);
    let interrupted = queue
        .items()
        .unwrap()
        .iter()
        .filter(|i| i.attempts > 1)
        .count();
    eprintln!("{mid_drain} of 20 kills landed mid-drain; {interrupted} uploads were cut off");
    assert!(
        mid_drain >= 15,
        "the kills must land during the drain ({mid_drain} did)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_network_that_drops_resets_and_delays_every_photo_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_room_for(dir.path(), 40);
    let proxy = FaultyProxy::start(server.port).await;
    let tokens = Arc::new(MemoryTokenStore::default());
    Client::new(&server.base, tokens.clone())
        .unwrap()
        .login(&seeded_username(0), PASSWORD)
        .await
        .unwrap();
    let client = Client::new(&proxy.base, tokens).unwrap();
    let phone = tempfile::tempdir().unwrap();
    let queue = Queue::open(&phone.path().join("queue.sqlite3")).unwrap();
    let sent = phone_photos(30);
    for p in &sent {
        queue.enqueue("other", p, None, None).unwrap();
    }
    drain_until_done(&queue, &client).await;
    assert_each_once(&server, &queue, &sent);
    let stats = &proxy.stats;
    eprintln!("{stats:?}");
    for (fault, count) in [
        ("dropped", &stats.dropped),
        ("reset mid-body", &stats.reset_mid_body),
        ("answer lost", &stats.answer_lost),
    ] {
        assert!(
            count.load(Ordering::Relaxed) > 0,
            "no connection was {fault}"
        );
    }
}

#[derive(Default)]
struct Uploaded(AtomicUsize);

impl QueueListener for Uploaded {
    fn item_changed(&self, item: &QueueItem) {
        if matches!(item.state, ItemState::Uploaded { .. }) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_mid_drain_and_restarted_the_queue_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server_with_room_for(dir.path(), 40);
    let client = Client::new(&server.base, Arc::new(MemoryTokenStore::default())).unwrap();
    client.login(&seeded_username(0), PASSWORD).await.unwrap();
    let phone = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(&phone.path().join("queue.sqlite3")).unwrap());
    let sent = phone_photos(30);
    for p in &sent {
        queue.enqueue("other", p, None, None).unwrap();
    }
    let uploaded = Arc::new(Uploaded::default());
    let _subscription = queue.subscribe(uploaded.clone());
    let drain = tokio::spawn({
        let (queue, client) = (queue.clone(), client.clone());
        async move { drain_until_done(&queue, &client).await }
    });
    tokio::time::timeout(Duration::from_secs(60), async {
        while uploaded.0.load(Ordering::SeqCst) < 8 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("uploads start");
    tokio::task::block_in_place(|| server.kill());
    let at_kill = uploaded.0.load(Ordering::SeqCst);
    assert!(at_kill < sent.len(), "the kill must land mid-drain");
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| server.restart(Duration::ZERO));
    tokio::time::timeout(Duration::from_secs(120), drain)
        .await
        .expect("the queue drains once the server is back")
        .unwrap();
    assert_each_once(&server, &queue, &sent);
}

/// The app's time is up mid-upload (iOS background expiry, a cancelled worker): `stop` ends the
/// run at once although the server never answers, the photo waits again, and a later run stores
/// it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cuts_a_hanging_upload_off_and_a_later_run_stores_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_room_for(dir.path(), 4);
    let tokens = Arc::new(MemoryTokenStore::default());
    let client = Client::new(&server.base, tokens.clone()).unwrap();
    client.login(&seeded_username(0), PASSWORD).await.unwrap();
    // A server that takes the request and never answers, with the same session.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_base = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let hanging = Client::new(&silent_base, tokens).unwrap();
    let phone = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(&phone.path().join("queue.sqlite3")).unwrap());
    queue.signed_in(&seeded_username(0)).unwrap();
    let photo = phone_photos(1).remove(0);
    let item = queue.enqueue("other", &photo, None, None).unwrap();
    // A stop before a run began does not end it.
    queue.stop();
    let run = tokio::spawn({
        let queue = queue.clone();
        async move { queue.drain(&hanging, &DrainPolicy::default()).await }
    });
    tokio::time::timeout(Duration::from_secs(10), async {
        while queue.item(item.id).unwrap().state != ItemState::Uploading {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the upload starts");
    queue.stop();
    let outcome = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the run ends at once, not at the client's 60 s timeout")
        .unwrap()
        .unwrap();
    assert_eq!(outcome, DrainOutcome::Stopped);
    assert_eq!(
        queue.item(item.id).unwrap().state,
        ItemState::Waiting,
        "the photo waits again"
    );
    held.abort();
    drain_until_done(&queue, &client).await;
    assert_each_once(&server, &queue, &[photo]);
}

/// Whose photos the server holds: (account, SHA-256) of each live image.
fn owners(server: &ServerProcess) -> HashSet<(String, String)> {
    server
        .database()
        .rows(
            "SELECT c.username, i.sha256 FROM images i JOIN candidates c ON c.id = i.candidate_id
             WHERE i.deleted_at IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_phone_two_accounts_each_photo_goes_only_to_the_account_that_queued_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_activated(dir.path(), 2);
    widen_other(&db, 4);
    drop(db);
    let server = ServerProcess::start(dir.path());
    let client = Client::new(&server.base, Arc::new(MemoryTokenStore::default())).unwrap();
    let phone = tempfile::tempdir().unwrap();
    let queue = Queue::open(&phone.path().join("queue.sqlite3")).unwrap();
    let (first, second) = (seeded_username(0), seeded_username(1));
    let photos = phone_photos(2);

    // The first candidate queues a photo (offline, say) and signs out keeping it.
    client.login(&first, PASSWORD).await.unwrap();
    queue.signed_in(&first).unwrap();
    queue.refresh(&client).await.unwrap();
    let kept = queue.enqueue("other", &photos[0], None, None).unwrap();
    client.logout().await.unwrap();
    queue.signed_out(true).unwrap();
    assert_eq!(queue.account().unwrap(), None);
    assert!(
        queue.cached().unwrap().is_none(),
        "the page went at sign-out"
    );
    assert!(
        queue.items().unwrap().is_empty(),
        "nobody's photos are listed"
    );

    // Another candidate on the same phone neither sees nor sends it.
    client.login(&second, PASSWORD).await.unwrap();
    queue.signed_in(&second).unwrap();
    assert!(queue.items().unwrap().is_empty());
    assert!(queue.cancel(kept.id).is_err(), "nor cancels it");
    let own = queue.enqueue("other", &photos[1], None, None).unwrap();
    drain_until_done(&queue, &client).await;
    let page = queue.cached().unwrap().expect("the second account's page");
    assert_eq!(page.dossier.profile.username, second);
    assert_eq!(
        owners(&server),
        HashSet::from([(second.clone(), sha256_hex(&photos[1]))]),
        "only the second account's own photo went, to its own dossier"
    );
    assert!(matches!(
        queue.item(own.id).unwrap().state,
        ItemState::Uploaded { .. }
    ));
    assert_eq!(queue.item(kept.id).unwrap().state, ItemState::Waiting);

    // The second signs out discarding; the first signs in again and its photo goes.
    client.logout().await.unwrap();
    queue.signed_out(false).unwrap();
    assert!(
        queue.item(own.id).is_err(),
        "the discarded account's records are gone"
    );
    client.login(&first, PASSWORD).await.unwrap();
    queue.signed_in(&first).unwrap();
    assert_eq!(
        queue
            .items()
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        [kept.id]
    );
    drain_until_done(&queue, &client).await;
    assert_eq!(
        owners(&server),
        HashSet::from([
            (second.clone(), sha256_hex(&photos[1])),
            (first.clone(), sha256_hex(&photos[0])),
        ])
    );

    // Signing out discarding leaves nothing of the first account either.
    client.logout().await.unwrap();
    queue.signed_out(false).unwrap();
    client.login(&first, PASSWORD).await.unwrap();
    queue.signed_in(&first).unwrap();
    assert!(queue.items().unwrap().is_empty());
}
