//! Telling candidates, end to end: the real server process, decisions made through the review
//! API, the dispatcher sending through the real provider code to fake APNs, FCM, Alibaba Cloud
//! SMS and webhooks on loopback that check every signature.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dossier_core::api::{PushPlatform, PushTokenRegistration};
use dossier_core::client::{Client, MemoryTokenStore, UploadRequest};
use dossier_server::demo;
use dossier_server::storage::Db;
use dossier_tests::fake_providers::{Delivery, FakeProviders, SmsVia};
use dossier_tests::postgres_cluster::PostgresCluster;
use dossier_tests::{
    PASSWORD, ServerProcess, StaffSession, fill_required, photo, seed_activated, seeded_mobile,
    seeded_username, verdicts,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// The server with the demo district, `n` candidates, its providers pointed at the fake.
struct Setup {
    _dir: tempfile::TempDir,
    server: ServerProcess,
    fake: FakeProviders,
    site: StaffSession,
    /// The server's settings, for a second instance.
    env: Vec<(String, String)>,
}

async fn setup(n: usize, sms: SmsVia, settings: &[(&str, &str)]) -> Setup {
    setup_on(n, sms, settings, None).await
}

/// `setup` on the PostgreSQL database `database` if given.
async fn setup_on(
    n: usize,
    sms: SmsVia,
    settings: &[(&str, &str)],
    database: Option<String>,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = match &database {
        Some(url) => dossier_tests::seed_activated_in(Db::connect(url).unwrap(), n),
        None => seed_activated(dir.path(), n),
    };
    let passwords: BTreeMap<String, String> = demo::seed_staff(&db, OffsetDateTime::now_utc())
        .unwrap()
        .into_iter()
        .collect();
    drop(db);
    let fake = FakeProviders::start().await;
    let mut env = fake.env(dir.path(), sms);
    env.extend(
        [
            ("POLL_INTERVAL_MS", "50"),
            ("RETRY_BASE_MS", "50"),
            ("RETRY_MAX_SECS", "1"),
        ]
        .iter()
        .chain(settings)
        .map(|(k, v)| (format!("DOSSIER_NOTIFY__{k}"), v.to_string())),
    );
    if let Some(url) = database {
        env.push(("DOSSIER_DATABASE__URL".into(), url));
    }
    let server = ServerProcess::start_with(dir.path(), 0, env.clone());
    let site = StaffSession::login(&server.base, "dongcheng", &passwords["dongcheng"]).await;
    Setup {
        _dir: dir,
        server,
        fake,
        site,
        env,
    }
}

/// Candidate `i` signed in on a phone that registered `push` (if any), with a submitted dossier.
async fn submitted(server: &ServerProcess, i: usize, push: Option<(PushPlatform, &str)>) -> Client {
    let client = Client::new(&server.base, Arc::new(MemoryTokenStore::default())).unwrap();
    client.login(&seeded_username(i), PASSWORD).await.unwrap();
    if let Some((platform, token)) = push {
        client
            .register_push_token(&PushTokenRegistration {
                platform,
                token: token.into(),
            })
            .await
            .unwrap();
    }
    fill_required(&client).await;
    client.submit().await.unwrap();
    client
}

fn candidate_id(server: &ServerProcess, i: usize) -> Uuid {
    let id: String = server
        .database()
        .query_row(
            "SELECT id FROM candidates WHERE username = ?1",
            [seeded_username(i)],
            |r| r.get(0),
        )
        .unwrap();
    id.parse().unwrap()
}

/// The site reviewer returns candidate `i`'s diploma: one message, one push, one SMS queued.
async fn return_diploma(s: &Setup, i: usize) {
    let id = candidate_id(&s.server, i);
    let (status, body) = s
        .site
        .post(&format!("/api/v1/review/dossiers/{id}/claim"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, dossier) = s.site.get(&format!("/api/v1/review/dossiers/{id}")).await;
    let materials = verdicts(
        &dossier,
        Some(("diploma", "毕业证书照片模糊，请重新拍摄上传。")),
    );
    let (status, body) = s
        .site
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            json!({"version": dossier["version"], "materials": materials, "outcome": "return"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Wait until `done` holds of the fake's deliveries, or fail after `limit` saying what the
/// outbox holds.
async fn until(s: &Setup, limit: Duration, what: &str, done: impl Fn(&[Delivery]) -> bool) {
    let start = Instant::now();
    while !done(&s.fake.deliveries()) {
        if start.elapsed() > limit {
            let rows: Vec<(String, String, i64, Option<String>)> = s.server.database().rows(
                "SELECT channel, state, attempts, last_error FROM outbox",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            );
            panic!(
                "{what}: not within {limit:?}; delivered {:#?}; outbox {rows:#?}",
                s.fake.deliveries()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sms_to(deliveries: &[Delivery], mobile: &str) -> usize {
    deliveries
        .iter()
        .filter(|d| matches!(d.provider, "aliyun" | "sms") && d.to == mobile)
        .count()
}

fn outbox_states(server: &ServerProcess, i: usize, channel: &str) -> Vec<String> {
    server.database().rows(
        "SELECT o.state FROM outbox o JOIN candidates c ON c.id = o.candidate_id
         WHERE c.username = ?1 AND o.channel = ?2 ORDER BY o.due_ms",
        [seeded_username(i), channel.into()],
        |r| r.get(0),
    )
}

#[tokio::test]
async fn each_provider_gets_a_signed_request_and_the_sms_follows_only_unread_pushes() {
    let s = setup(
        5,
        SmsVia::Aliyun,
        &[("SMS_AFTER_SECS", "2"), ("SMS_MIN_INTERVAL_SECS", "3600")],
    )
    .await;
    let phones = [
        Some((PushPlatform::Apns, "apns-token-0")),
        Some((PushPlatform::Fcm, "fcm-token-1")),
        Some((PushPlatform::Huawei, "huawei-token-2")),
        None,
        Some((PushPlatform::Apns, "gone-token-4")),
    ];
    let mut clients = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        clients.push(submitted(&s.server, i, *phone).await);
    }
    let started = Instant::now();
    for i in 0..phones.len() {
        return_diploma(&s, i).await;
    }

    // Pushes: APNs over HTTP/2 with an ES256 token, FCM with an OAuth token from an RS256
    // assertion, the phone maker's token through the signed webhook.
    until(&s, Duration::from_secs(20), "three pushes", |d| {
        ["apns-token-0", "fcm-token-1", "huawei-token-2"]
            .iter()
            .all(|t| d.iter().any(|x| x.to == *t))
    })
    .await;
    let pushed = s.fake.deliveries();
    let by_token = |t: &str| pushed.iter().find(|d| d.to == t).unwrap().clone();
    assert_eq!(by_token("apns-token-0").provider, "apns");
    assert_eq!(by_token("fcm-token-1").provider, "fcm");
    assert_eq!(by_token("huawei-token-2").provider, "webhook");
    assert!(
        !by_token("apns-token-0").text.is_empty(),
        "the message's title"
    );

    // Candidate 0 opens the message at once: no SMS will follow.
    let messages = clients[0].messages().await.unwrap();
    clients[0].mark_read(messages.messages[0].id).await.unwrap();

    // No phone (3) or a phone APNs no longer knows (4): the SMS goes now, not after 2 s.
    until(&s, Duration::from_secs(10), "SMS to the unreachable", |d| {
        sms_to(d, &seeded_mobile(3)) == 1 && sms_to(d, &seeded_mobile(4)) == 1
    })
    .await;
    let gone: i64 = s
        .server
        .database()
        .query_row(
            "SELECT COUNT(*) FROM push_tokens WHERE token = 'gone-token-4'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(gone, 0, "a token APNs calls Unregistered is forgotten");

    // After the 2 s: SMS to the two who did not read, none to the one who did.
    until(&s, Duration::from_secs(15), "SMS to the unread", |d| {
        sms_to(d, &seeded_mobile(1)) == 1 && sms_to(d, &seeded_mobile(2)) == 1
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the SMS waited for the push"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = s.fake.deliveries();
    assert_eq!(sms_to(&all, &seeded_mobile(0)), 0, "read: no SMS");
    assert_eq!(outbox_states(&s.server, 0, "sms"), ["skipped"]);
    // Alibaba Cloud got the district's sign and the notification's id as OutId.
    let sms = all.iter().find(|d| d.to == seeded_mobile(1)).unwrap();
    assert_eq!((sms.provider, sms.text.as_str()), ("aliyun", "演示考区"));
    assert!(Uuid::parse_str(&sms.key).is_ok());

    // Candidate 3 replaces and resubmits; a second return within the hour: the push-less
    // candidate's second SMS waits for the hour to pass.
    let view = clients[3].dossier().await.unwrap();
    let diploma = view
        .materials
        .iter()
        .find(|m| m.category.code == "diploma")
        .unwrap();
    clients[3]
        .upload(&UploadRequest {
            category: "diploma",
            jpeg: photo(4242),
            idempotency_key: Uuid::new_v4(),
            slot: None,
            replaces: Some(diploma.images[0].id),
        })
        .await
        .unwrap();
    clients[3].submit().await.unwrap();
    return_diploma(&s, 3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sms_to(&s.fake.deliveries(), &seeded_mobile(3)),
        1,
        "at most one SMS an hour"
    );
    assert_eq!(outbox_states(&s.server, 3, "sms"), ["sent", "pending"]);
    assert_eq!(s.fake.bad_signatures(), 0, "every request was signed right");
}

#[tokio::test]
async fn half_the_sends_fail_and_every_notification_arrives_once_after_backoff() {
    let s = setup(
        8,
        SmsVia::Gateway,
        &[("SMS_AFTER_SECS", "0"), ("RETRY_BASE_MS", "100")],
    )
    .await;
    let platforms = [PushPlatform::Apns, PushPlatform::Fcm, PushPlatform::Xiaomi];
    let tokens: Vec<String> = (0..8).map(|i| format!("token-{i}")).collect();
    for (i, token) in tokens.iter().enumerate() {
        submitted(&s.server, i, Some((platforms[i % 3], token))).await;
    }
    s.fake.set_fail_rate(0.5);
    for i in 0..8 {
        return_diploma(&s, i).await;
    }
    // 8 pushes and, unread, 8 SMS.
    until(&s, Duration::from_secs(60), "16 notifications", |d| {
        d.iter().map(|x| &x.key).collect::<BTreeSet<_>>().len() == 16
    })
    .await;
    assert!(s.fake.failed_on_demand() >= 4, "the fake did fail");
    let deliveries = s.fake.deliveries();
    assert_eq!(deliveries.len(), 16, "none delivered twice");
    let mut texts = deliveries.iter().filter(|d| d.provider == "sms");
    assert!(texts.next().unwrap().text.starts_with(
        "【演示考区】您的医师资格考试报名材料照片，有新的审核通知，请在 24 小时之内登陆报名网站"
    ));
    // Each retry of a notification waited at least half its doubling backoff (100 ms, 200 ms,
    // 400 ms, capped at 1 s).
    let mut by_key: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
    for (key, at) in s.fake.attempts() {
        by_key.entry(key).or_default().push(at);
    }
    let retried = by_key.values().filter(|a| a.len() > 1).count();
    eprintln!(
        "{} failed on demand; {retried} of 16 notifications retried",
        s.fake.failed_on_demand()
    );
    assert!(retried >= 2, "some notifications needed retries");
    for (key, attempts) in &by_key {
        for (n, pair) in attempts.windows(2).enumerate() {
            let floor = Duration::from_millis((100u64 << n).min(1000) / 2);
            assert!(
                pair[1] - pair[0] >= floor,
                "{key}: retry {} after {:?}, backoff floor {floor:?}",
                n + 1,
                pair[1] - pair[0]
            );
        }
    }
    assert_eq!(s.fake.bad_signatures(), 0);
}

#[tokio::test]
async fn the_dispatcher_killed_mid_send_delivers_every_notification_under_one_key() {
    const N: usize = 16;
    let mut s = setup(
        N,
        SmsVia::Gateway,
        &[
            ("SMS_AFTER_SECS", "86400"),
            ("CONCURRENCY", "4"),
            ("BATCH", "8"),
            // On PostgreSQL a restarted instance leaves the rows a killed one was sending to
            // their lease (another instance may hold them): a short one, so the test goes on.
            ("LEASE_SECS", "5"),
        ],
    )
    .await;
    for i in 0..N {
        submitted(
            &s.server,
            i,
            Some((PushPlatform::Huawei, &format!("phone-{i}"))),
        )
        .await;
    }
    // Build a backlog: the provider refuses everything while the decisions are made.
    s.fake.set_fail_rate(1.0);
    for i in 0..N {
        return_diploma(&s, i).await;
    }
    s.fake.set_fail_rate(0.0);
    s.fake.set_delay(Duration::from_millis(150));

    // Kill the server three times while the provider holds requests it has taken.
    let mut mid_send = 0;
    for _ in 0..3 {
        let seen = s.fake.deliveries().len();
        until(&s, Duration::from_secs(30), "progress", |d| {
            d.len() >= seen + 2
        })
        .await;
        if s.fake.in_flight() > 0 {
            mid_send += 1;
        }
        s.server.restart(Duration::from_millis(100));
    }
    assert!(mid_send >= 2, "kills landed mid-send {mid_send} of 3 times");

    until(&s, Duration::from_secs(60), "every notification", |d| {
        d.iter()
            .filter_map(|x| x.message.clone())
            .collect::<BTreeSet<_>>()
            .len()
            == N
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deliveries = s.fake.deliveries();
    // One key per message: a receiver that deduplicates by Idempotency-Key, as the protocol
    // asks, shows each notification once.
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in &deliveries {
        keys.entry(d.message.clone().unwrap())
            .or_default()
            .insert(d.key.clone());
    }
    assert_eq!(keys.len(), N);
    assert!(
        keys.values().all(|k| k.len() == 1),
        "a new key on a re-send: {keys:?}"
    );
    // Only what was in flight at a kill went twice: at most the 4 parallel sends per kill.
    let repeats = deliveries.len() - N;
    eprintln!("{N} notifications, {repeats} re-sent after a kill, kills mid-send {mid_send} of 3");
    assert!(repeats <= 3 * 4, "{repeats} repeats for 3 kills");
    let states = s.server.database().rows(
        "SELECT state, COUNT(*) FROM outbox WHERE channel = 'push' GROUP BY state",
        [],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
    );
    assert_eq!(states, [("sent".to_string(), N as i64)]);
    assert_eq!(s.fake.bad_signatures(), 0);
}

/// Two instances on one PostgreSQL database share the outbox (rows claimed with `FOR UPDATE
/// SKIP LOCKED` under leases); one is SIGKILLed mid-send and stays down: the other sends what
/// was left, and what the dead one held once its lease ran out, never while the lease held.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_dispatchers_share_the_outbox_and_a_dead_ones_rows_wait_for_their_lease() {
    const N: usize = 16;
    const LEASE: Duration = Duration::from_secs(5);
    // On this test's own thread: the cluster dies with the thread that started it.
    let (_cluster, url) = tokio::task::block_in_place(|| {
        let cluster = PostgresCluster::start();
        let url = cluster.create_database();
        (cluster, url)
    });
    let mut s = setup_on(
        N,
        SmsVia::Gateway,
        &[
            ("SMS_AFTER_SECS", "86400"),
            ("CONCURRENCY", "4"),
            ("BATCH", "4"),
            ("LEASE_SECS", "5"),
        ],
        Some(url),
    )
    .await;
    for i in 0..N {
        submitted(
            &s.server,
            i,
            Some((PushPlatform::Huawei, &format!("phone-{i}"))),
        )
        .await;
    }
    s.fake.set_fail_rate(1.0);
    for i in 0..N {
        return_diploma(&s, i).await;
    }
    // The first instance dies while the provider holds the sends it took (slow answers).
    s.fake.set_delay(Duration::from_secs(3));
    s.fake.set_fail_rate(0.0);
    let started = Instant::now();
    while s.fake.in_flight() < 2 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let held = s.fake.in_flight();
    assert!(held >= 2, "the first instance was sending: {held}");
    s.server.kill();
    let killed_at = Instant::now();

    // Two instances now share the rest: a second one, and the first started again.
    s.fake.set_delay(Duration::from_millis(200));
    let second_dir = tempfile::tempdir().unwrap();
    let _second = ServerProcess::start_with(second_dir.path(), 0, s.env.clone());
    s.server.restart(Duration::from_millis(100));

    until(&s, Duration::from_secs(60), "every notification", |d| {
        d.iter()
            .filter_map(|x| x.message.clone())
            .collect::<BTreeSet<_>>()
            .len()
            == N
    })
    .await;
    // Every row ends sent: those the dead instance held, once their lease ran out.
    let started = Instant::now();
    loop {
        let open: i64 = s
            .server
            .database()
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE channel = 'push' AND state <> 'sent'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if open == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{open} rows not sent"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deliveries = s.fake.deliveries();
    let mut by_key: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
    for d in &deliveries {
        by_key.entry(d.key.clone()).or_default().push(d.at);
    }
    assert_eq!(by_key.len(), N, "one key per notification");
    // A second send of one key only after the first sender's lease ran out (less the time from
    // its claim to its send): never two instances sending one row at once.
    for (key, times) in &by_key {
        for pair in times.windows(2) {
            let gap = pair[1].duration_since(pair[0]);
            assert!(
                gap >= LEASE - Duration::from_secs(1),
                "{key} sent twice {gap:?} apart, within its lease"
            );
        }
    }
    // What the dead instance had sent, and only that, was sent again, once its lease ran out.
    let repeats = deliveries.len() - N;
    eprintln!(
        "{N} notifications over two instances, {held} in flight at the kill, {repeats} sent again"
    );
    assert!(
        (1..=held).contains(&repeats),
        "{repeats} sent again, {held} in flight"
    );
    let again = deliveries.iter().filter(|d| d.at > killed_at).count();
    assert!(
        again >= N - held,
        "the others were sent after the kill by the two instances"
    );
}
