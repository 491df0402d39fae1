//! The phone's queue against the real server: photos enqueued while the server is unreachable
//! wait, then drain exactly once when it is back.
use std::sync::Arc;

use dossier_core::client::{Client, FileTokenStore};
use dossier_core::queue::{
    DrainOutcome, DrainPolicy, ItemState, Network, Queue, QueueItem, QueueListener,
};
use dossier_server::{Application, demo};
use dossier_tests::{CANDIDATES, PASSWORD, photo, settings_for};
use time::OffsetDateTime;

#[tokio::test]
async fn photos_queued_while_the_server_is_down_arrive_once_when_it_is_back() {
    let data = tempfile::tempdir().unwrap();
    let app = Application::build(settings_for(data.path())).await.unwrap();
    demo::seed(&app.state().db, OffsetDateTime::now_utc()).unwrap();
    let port = app.port();
    let server = tokio::spawn(app.run_until_stopped());
    let base = format!("http://127.0.0.1:{port}");
    let token_file = data.path().join("phone-tokens.json");
    // What the app keeps between runs: its tokens (a file here, the Keychain/Keystore on phones).
    let app_client = || Client::new(&base, Arc::new(FileTokenStore(token_file.clone()))).unwrap();
    let client = app_client();
    // The demo's first candidate is activated by the CLI; here activate through a ticket instead.
    let username = CANDIDATES[0].username;
    let ticket = {
        let d = app_district_secret(data.path());
        dossier_server::auth::Auth::issue_ticket(
            username,
            &d,
            OffsetDateTime::now_utc(),
            time::Duration::minutes(5),
        )
    };
    if let dossier_core::client::Entry::Activate(needed) =
        client.enter_with_ticket(&ticket).await.unwrap()
    {
        client
            .activate(dossier_tests::activation(&needed.activation_token))
            .await
            .unwrap();
    }
    client.login(username, PASSWORD).await.unwrap();

    // The basement: no server. (The app starts afresh, so no pooled connection survives either.)
    server.abort();
    let _ = server.await;
    let client = app_client();
    let queue_dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(&queue_dir.path().join("queue.sqlite3")).unwrap();
    let plan = [
        ("id_card", 1),
        ("id_card", 2),
        ("diploma", 3),
        ("probation", 4),
        ("work_proof", 5),
    ];
    for (category, seed) in plan {
        queue.enqueue(category, &photo(seed), None, None).unwrap();
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

    // The app is killed and started again; the server is back on the same address.
    drop(queue);
    let client = app_client();
    let queue = Queue::open(&queue_dir.path().join("queue.sqlite3")).unwrap();
    let mut settings = settings_for(data.path());
    settings.listen = format!("127.0.0.1:{port}");
    let app = Application::build(settings).await.unwrap();
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
    let far = OffsetDateTime::now_utc() + time::Duration::days(10);
    let metered = DrainPolicy {
        network: Network::Metered,
        wifi_only: true,
        deadline: Some(far),
        ..DrainPolicy::default()
    };
    assert_eq!(
        queue.drain(&client, &metered).await.unwrap(),
        DrainOutcome::WaitingForWifi
    );
    assert!(
        queue
            .items()
            .unwrap()
            .iter()
            .all(|i| i.state == ItemState::Waiting)
    );
    // The deadline is near: mobile data it is. The listener follows every item.
    let events = Arc::new(Events::default());
    let subscription = queue.subscribe(events.clone());
    let near = DrainPolicy {
        deadline: Some(OffsetDateTime::now_utc() + time::Duration::hours(5)),
        ..metered
    };
    assert_eq!(
        queue.drain(&client, &near).await.unwrap(),
        DrainOutcome::Done
    );
    let seen = events.0.lock().unwrap().clone();
    for item in queue.items().unwrap() {
        let states: Vec<&str> = seen
            .iter()
            .filter(|(id, _)| *id == item.id)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(states, ["uploading", "uploaded"], "item {}", item.id);
    }
    drop(subscription);
    let before = events.0.lock().unwrap().len();
    queue.enqueue("other", &photo(20), None, None).unwrap();
    assert_eq!(
        events.0.lock().unwrap().len(),
        before,
        "no events after the handle is dropped"
    );
    queue
        .cancel(queue.items().unwrap().last().unwrap().id)
        .unwrap();
    let items = queue.items().unwrap();
    let uploaded: Vec<_> = items
        .iter()
        .filter_map(|i| match i.state {
            ItemState::Uploaded { image } => Some(image),
            _ => None,
        })
        .collect();
    assert_eq!(uploaded.len(), plan.len());
    // Draining again sends nothing; the server holds each photo once.
    assert_eq!(
        queue.drain(&client, &DrainPolicy::default()).await.unwrap(),
        DrainOutcome::Done
    );
    let view = client.dossier().await.unwrap();
    let held: Vec<_> = view
        .materials
        .iter()
        .flat_map(|m| m.images.iter().map(|i| i.id))
        .collect();
    assert_eq!(held.len(), plan.len());
    assert!(uploaded.iter().all(|id| held.contains(id)));
    // A third ID image is refused for good: the item needs the user's attention, not retries.
    let extra = queue.enqueue("id_card", &photo(9), None, None).unwrap();
    assert_eq!(
        queue.drain(&client, &DrainPolicy::default()).await.unwrap(),
        DrainOutcome::Done
    );
    assert!(matches!(
        queue.item(extra.id).unwrap().state,
        ItemState::NeedsAttention {
            code: Some(dossier_core::api::ErrorCode::CountReached),
            ..
        }
    ));
}

#[derive(Default)]
struct Events(std::sync::Mutex<Vec<(i64, &'static str)>>);

impl QueueListener for Events {
    fn item_changed(&self, item: &QueueItem) {
        let state = match item.state {
            ItemState::Waiting => "waiting",
            ItemState::Uploading => "uploading",
            ItemState::Uploaded { .. } => "uploaded",
            ItemState::Held { .. } => "held",
            ItemState::NeedsAttention { .. } => "attention",
            ItemState::Cancelled => "cancelled",
        };
        self.0.lock().unwrap().push((item.id, state));
    }
}

fn app_district_secret(dir: &std::path::Path) -> Vec<u8> {
    let conn = rusqlite::Connection::open(dir.join("dossier.sqlite3")).unwrap();
    conn.query_row(
        "SELECT ticket_secret FROM districts WHERE code = ?1",
        [demo::DISTRICT],
        |r| r.get(0),
    )
    .unwrap()
}
