//! The candidate's whole journey through the phone's client and queue, against the real server:
//! sign in, photograph documents in a basement (no server), drain when it is back, submit; a
//! site reviewer returns one material through the review API; the phone hears of it, replaces it
//! and resubmits.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dossier_core::api::{DocumentKind, DossierState, ErrorCode, MaterialState};
use dossier_core::client::{Client, ClientError, FileTokenStore, UploadRequest};
use dossier_core::photo::{PhotoSource, PrepareOptions, prepare};
use dossier_core::queue::{
    CachedDossier, DrainOutcome, DrainPolicy, ItemState, Network, Queue, QueueItem, QueueListener,
};
use dossier_server::storage::{self, Db};
use dossier_server::{Application, demo};
use dossier_tests::{CANDIDATES, PASSWORD, StaffSession, photo, settings_for, verdicts};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// What the app's screens would have been told.
#[derive(Default)]
struct Screen {
    states: Mutex<Vec<(i64, &'static str)>>,
    /// Per item: the last (sent, total) seen.
    progress: Mutex<HashMap<i64, (u64, u64)>>,
    dossiers: Mutex<Vec<CachedDossier>>,
}

impl QueueListener for Screen {
    fn item_changed(&self, item: &QueueItem) {
        let state = match item.state {
            ItemState::Waiting => "waiting",
            ItemState::Uploading => "uploading",
            ItemState::Uploaded { .. } => "uploaded",
            ItemState::Held { .. } => "held",
            ItemState::NeedsAttention { .. } => "attention",
            ItemState::Cancelled => "cancelled",
        };
        self.states.lock().unwrap().push((item.id, state));
    }

    fn upload_progress(&self, id: i64, sent: u64, total: u64) {
        let mut progress = self.progress.lock().unwrap();
        let last = progress.entry(id).or_default();
        // Within one attempt the count only grows; a new attempt starts again from its first step.
        assert!(0 < sent && sent <= total, "item {id}: {sent} of {total}");
        assert!(
            sent > last.0 || sent <= 16 * 1024,
            "item {id}: {sent} after {}",
            last.0
        );
        *last = (sent, total);
    }

    fn dossier_changed(&self, cached: &CachedDossier) {
        self.dossiers.lock().unwrap().push(cached.clone());
    }
}

impl Screen {
    fn states_of(&self, id: i64) -> Vec<&'static str> {
        let states = self.states.lock().unwrap();
        states
            .iter()
            .filter(|(i, _)| *i == id)
            .map(|(_, s)| *s)
            .collect()
    }
}

/// A real camera photo from the repository's test set, prepared as the app would.
fn camera_photo(path: &str, document: DocumentKind) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/photos")
        .join(path);
    let options = PrepareOptions {
        document,
        ..PrepareOptions::default()
    };
    prepare(PhotoSource::Path(&path), &options)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .jpeg
}

/// The exam site's reviewer returns one material with a message (approving the others),
/// through the review API.
async fn site_returns(base: &str, db: &Db, candidate: Uuid, category: &str, message: &str) {
    let passwords: std::collections::HashMap<_, _> =
        demo::seed_staff(db, OffsetDateTime::now_utc())
            .unwrap()
            .into_iter()
            .collect();
    let reviewer = StaffSession::login(base, "dongcheng", &passwords["dongcheng"]).await;
    let (status, _) = reviewer
        .post(
            &format!("/api/v1/review/dossiers/{candidate}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, dossier) = reviewer
        .get(&format!("/api/v1/review/dossiers/{candidate}"))
        .await;
    let materials = verdicts(&dossier, Some((category, message)));
    let (status, body) = reviewer
        .post(
            &format!("/api/v1/review/dossiers/{candidate}/decision"),
            json!({"version": dossier["version"], "materials": materials, "outcome": "return"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn drained(queue: &Queue, client: &Client) {
    assert_eq!(
        queue.drain(client, &DrainPolicy::default()).await.unwrap(),
        DrainOutcome::Done
    );
}

fn material<'a>(cached: &'a CachedDossier, code: &str) -> &'a dossier_core::api::MaterialView {
    cached
        .dossier
        .materials
        .iter()
        .find(|m| m.category.code == code)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_candidate_journey_through_the_phone_client() {
    let data = tempfile::tempdir().unwrap();
    let app = Application::build(settings_for(data.path())).await.unwrap();
    let db = app.state().db.clone();
    demo::seed(&db, OffsetDateTime::now_utc()).unwrap();
    let port = app.port();
    let server = tokio::spawn(app.run_until_stopped());
    let base = format!("http://127.0.0.1:{port}");
    let phone = tempfile::tempdir().unwrap();
    let token_file = phone.path().join("tokens.json");
    let queue_file = phone.path().join("queue.sqlite3");
    // What the app keeps between runs: its tokens (a file here, the Keychain/Keystore on phones).
    let app_client = || Client::new(&base, Arc::new(FileTokenStore(token_file.clone()))).unwrap();

    // Sign in: ticket from the registration system, activation, then the password.
    let username = CANDIDATES[0].username;
    let candidate = db
        .blocking_write(|tx| storage::candidate_by_username(tx, username))
        .unwrap()
        .id;
    let secret = db
        .blocking_write(|tx| storage::district(tx, demo::DISTRICT))
        .unwrap()
        .ticket_secret;
    let ticket = dossier_server::auth::Auth::issue_ticket(
        username,
        &secret,
        OffsetDateTime::now_utc(),
        time::Duration::minutes(5),
    );
    let client = app_client();
    if let dossier_core::client::Entry::Activate(needed) =
        client.enter_with_ticket(&ticket).await.unwrap()
    {
        client
            .activate(dossier_tests::activation(&needed.activation_token))
            .await
            .unwrap();
    }
    client.login(username, PASSWORD).await.unwrap();
    let queue = Queue::open(&queue_file).unwrap();
    assert!(queue.cached().unwrap().is_none(), "nothing fetched yet");
    queue.refresh(&client).await.unwrap(); // the app's start

    // The basement: no server. The app is killed and started again, so no pooled connection.
    server.abort();
    let _ = server.await;
    drop(queue);
    let client = app_client();
    let queue = Queue::open(&queue_file).unwrap();
    let offline = queue.cached().unwrap().expect("shown offline");
    assert!(offline.age(OffsetDateTime::now_utc()) >= time::Duration::ZERO);
    assert_eq!(offline.dossier.profile.username, username);
    assert_eq!(offline.dossier.state, DossierState::Draft);
    assert!(matches!(
        queue.refresh(&client).await,
        Err(dossier_core::queue::QueueError::Client(
            ClientError::Network { .. }
        ))
    ));
    // Photos straight from phones: sideways, with GPS, 0.2-2 MB.
    let plan = [
        ("id_card", "real/canon_hdr_NO.jpg", DocumentKind::IdCard),
        (
            "id_card",
            "orientation/Landscape_6.jpg",
            DocumentKind::IdCard,
        ),
        ("diploma", "real/iphone_hdr_NO.jpg", DocumentKind::A4),
        ("probation", "orientation/Portrait_8.jpg", DocumentKind::A4),
        ("work_proof", "orientation/Portrait_3.jpg", DocumentKind::A4),
    ];
    let mut sent = HashMap::new();
    for (category, file, document) in plan {
        let jpeg = camera_photo(file, document);
        assert!(jpeg.len() <= 200 * 1024);
        let item = queue.enqueue(category, &jpeg, None, None).unwrap();
        sent.insert(item.id, jpeg);
    }
    assert!(matches!(
        queue.drain(&client, &DrainPolicy::default()).await.unwrap(),
        DrainOutcome::RetryAt(_)
    ));
    assert!(
        queue
            .items()
            .unwrap()
            .iter()
            .all(|i| i.state == ItemState::Waiting && i.attempts == 1)
    );

    // Upstairs: the server is back on the same address and the app starts again.
    drop(queue);
    let client = app_client();
    let queue = Queue::open(&queue_file).unwrap();
    let mut settings = settings_for(data.path());
    settings.listen = format!("127.0.0.1:{port}");
    let app = Application::build(settings).await.unwrap();
    let db = app.state().db.clone();
    let _server = tokio::spawn(app.run_until_stopped());
    queue.retry_now().unwrap();
    // The phone says offline, or metered with "Wi-Fi only": nothing is sent.
    let offline = DrainPolicy {
        network: Network::Offline,
        ..DrainPolicy::default()
    };
    assert_eq!(
        queue.drain(&client, &offline).await.unwrap(),
        DrainOutcome::WaitingForNetwork
    );
    let metered = DrainPolicy {
        network: Network::Metered,
        wifi_only: true,
        deadline: Some(OffsetDateTime::now_utc() + time::Duration::days(10)),
        ..DrainPolicy::default()
    };
    assert_eq!(
        queue.drain(&client, &metered).await.unwrap(),
        DrainOutcome::WaitingForWifi
    );
    // The deadline is near: mobile data it is. The listener follows every item and its bytes.
    let screen = Arc::new(Screen::default());
    let subscription = queue.subscribe(screen.clone());
    let near = DrainPolicy {
        deadline: Some(OffsetDateTime::now_utc() + time::Duration::hours(5)),
        ..metered
    };
    assert_eq!(
        queue.drain(&client, &near).await.unwrap(),
        DrainOutcome::Done
    );
    for (id, jpeg) in &sent {
        assert_eq!(
            screen.states_of(*id),
            ["uploading", "uploaded"],
            "item {id}"
        );
        let total = jpeg.len() as u64;
        assert_eq!(
            screen.progress.lock().unwrap()[id],
            (total, total),
            "item {id}: progress reaches the whole photo"
        );
    }
    // After the uploads the dossier was refreshed: the app's page shows every image, each once,
    // and the bytes on the server are the ones the phone prepared.
    let cached = screen
        .dossiers
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("refreshed");
    let on_server: Vec<_> = cached
        .dossier
        .materials
        .iter()
        .flat_map(|m| &m.images)
        .collect();
    assert_eq!(on_server.len(), sent.len());
    for item in queue.items().unwrap() {
        let ItemState::Uploaded { image } = item.state else {
            panic!("{item:?}")
        };
        let view = on_server
            .iter()
            .find(|i| i.id == image)
            .expect("on the server");
        assert_eq!(view.upload_key, Some(item.key));
        assert_eq!(client.image_bytes(image).await.unwrap(), sent[&item.id]);
    }
    assert!(cached.dossier.can_submit);

    // An upload whose answer never reached the phone: the next refresh recognises it by key.
    let lost = queue.enqueue("other", &photo(42), None, None).unwrap();
    let view = client
        .upload(&UploadRequest {
            category: "other",
            jpeg: photo(42),
            idempotency_key: lost.key,
            slot: None,
            replaces: None,
        })
        .await
        .unwrap();
    queue.refresh(&client).await.unwrap();
    let lost = queue.item(lost.id).unwrap();
    assert_eq!(lost.state, ItemState::Uploaded { image: view.id });
    assert_eq!(lost.attempts, 0, "not sent again");

    // Submit: everything locks.
    let receipt = client.submit().await.unwrap();
    assert_eq!(receipt.message, dossier_core::api::SUBMITTED_TEXT);
    let cached = queue.refresh(&client).await.unwrap();
    assert_eq!(cached.dossier.state, DossierState::Submitted);
    assert!(cached.dossier.materials.iter().all(|m| m.locked));
    // A photo queued for a locked material is held, not retried forever.
    let front = material(&cached, "id_card").images[0].id;
    let early = queue
        .enqueue(
            "id_card",
            &camera_photo("orientation/Landscape_2.jpg", DocumentKind::IdCard),
            None,
            Some(front),
        )
        .unwrap();
    drained(&queue, &client).await;
    assert!(matches!(
        queue.item(early.id).unwrap().state,
        ItemState::Held {
            code: ErrorCode::Locked,
            ..
        }
    ));

    // A reviewer returns the diploma; the push makes the app refresh.
    let note = "毕业证书照片模糊，请重新上传。";
    site_returns(&base, &db, candidate, "diploma", note).await;
    let cached = queue.refresh(&client).await.unwrap();
    assert_eq!(
        screen
            .dossiers
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .dossier
            .state,
        DossierState::Returned,
        "the listener heard"
    );
    let newest = &cached.messages.messages[0];
    assert!(newest.body.contains(note) && !newest.read);
    let diploma = material(&cached, "diploma");
    assert_eq!(diploma.state, MaterialState::Returned);
    assert!(!diploma.locked && diploma.note.as_ref().unwrap().message == note);
    assert!(
        matches!(
            queue.item(early.id).unwrap().state,
            ItemState::Held {
                code: ErrorCode::Locked,
                ..
            }
        ),
        "the ID card is still locked, so its item stays held"
    );
    client.mark_read(newest.id).await.unwrap();
    // Replace the diploma and resubmit.
    let old = diploma.images[0].id;
    let retake = camera_photo("orientation/Portrait_6.jpg", DocumentKind::A4);
    let replacement = queue.enqueue("diploma", &retake, None, Some(old)).unwrap();
    drained(&queue, &client).await;
    let ItemState::Uploaded { image } = queue.item(replacement.id).unwrap().state else {
        panic!("replacement not uploaded")
    };
    let cached = queue.cached().unwrap().unwrap();
    let diploma = material(&cached, "diploma");
    assert_eq!(
        diploma.images.iter().map(|i| i.id).collect::<Vec<_>>(),
        [image]
    );
    assert_eq!(diploma.images[0].slot, 0, "in the old one's place");
    client.submit().await.unwrap();
    let cached = queue.refresh(&client).await.unwrap();
    assert_eq!(cached.dossier.state, DossierState::Submitted);
    assert!(cached.dossier.materials.iter().all(|m| m.locked));
    assert_eq!(cached.dossier.unread_messages, 0);

    // Later the ID card is returned too: the held photo waits again and goes up by itself.
    site_returns(
        &base,
        &db,
        candidate,
        "id_card",
        "身份证正面反光，请重新拍摄。",
    )
    .await;
    queue.refresh(&client).await.unwrap();
    assert_eq!(queue.item(early.id).unwrap().state, ItemState::Waiting);
    drained(&queue, &client).await;
    assert!(matches!(
        queue.item(early.id).unwrap().state,
        ItemState::Uploaded { .. }
    ));

    // A third ID image is refused for good: it needs the user, not retries.
    let extra = queue.enqueue("id_card", &photo(9), None, None).unwrap();
    drained(&queue, &client).await;
    assert!(matches!(
        queue.item(extra.id).unwrap().state,
        ItemState::NeedsAttention {
            code: Some(ErrorCode::CountReached),
            ..
        }
    ));
    // Dropping the handle unsubscribes.
    drop(subscription);
    let before = screen.states.lock().unwrap().len();
    let late = queue.enqueue("other", &photo(20), None, None).unwrap();
    queue.cancel(late.id).unwrap();
    assert_eq!(screen.states.lock().unwrap().len(), before);
    assert_eq!(queue.item(late.id).unwrap().state, ItemState::Cancelled);
}
