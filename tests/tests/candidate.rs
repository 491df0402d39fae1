//! The candidate side, end to end: the real server on a free port, driven by core's real client
//! (and by raw HTTP where a misbehaving client is the point).
use std::time::Duration as StdDuration;

use dossier_core::api::{
    ActivationRequest, DossierState, ErrorCode, MaterialState, MessageKind, ProfileUpdate,
    PushPlatform, PushTokenRegistration, RecoveryRequest, SUBMITTED_TEXT,
};
use dossier_core::client::{Action, ClientError, Entry, UploadRequest};
use dossier_server::storage::{self, MessageRow};
use dossier_tests::{
    CANDIDATES, PASSWORD, TestServer, activation, fill_required, photo, sha256_hex,
};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

fn code(e: &ClientError) -> ErrorCode {
    e.code()
        .unwrap_or_else(|| panic!("expected a refusal with a code, got {e:?}"))
}

fn upload<'a>(category: &'a str, jpeg: Vec<u8>) -> UploadRequest<'a> {
    UploadRequest {
        category,
        jpeg,
        idempotency_key: Uuid::new_v4(),
        slot: None,
        replaces: None,
    }
}

const ZHANG: &str = CANDIDATES[0].username;
const LI: &str = CANDIDATES[1].username;
const WANG: &str = CANDIDATES[2].username;

// 1. Entry from the registration system, activation, later entries.

#[tokio::test]
async fn first_entry_activates_then_ticket_and_password_sign_in() {
    let server = TestServer::start().await;
    let client = server.client();
    let Entry::Activate(needed) = client
        .enter_with_ticket(&server.ticket(LI, Duration::minutes(5)))
        .await
        .unwrap()
    else {
        panic!("first entry must ask for activation");
    };
    assert_eq!(needed.username, LI);
    assert_eq!(needed.name, "李华");

    let refusals: [(ActivationRequest, ErrorCode); 4] = [
        (
            ActivationRequest {
                password: "short1".into(),
                password_confirm: "short1".into(),
                ..activation(&needed.activation_token)
            },
            ErrorCode::PasswordRules,
        ),
        (
            ActivationRequest {
                password: "onlyletters".into(),
                password_confirm: "onlyletters".into(),
                ..activation(&needed.activation_token)
            },
            ErrorCode::PasswordRules,
        ),
        (
            ActivationRequest {
                password_confirm: "Passw0rd2027".into(),
                ..activation(&needed.activation_token)
            },
            ErrorCode::PasswordRules,
        ),
        (
            ActivationRequest {
                pledge_discipline: false,
                ..activation(&needed.activation_token)
            },
            ErrorCode::PledgesRequired,
        ),
    ];
    for (request, expected) in refusals {
        assert_eq!(code(&client.activate(request).await.unwrap_err()), expected);
    }
    let grant = client
        .activate(activation(&needed.activation_token))
        .await
        .unwrap();
    assert_eq!(grant.username, LI);
    assert!(
        grant.profile_incomplete,
        "no e-mail yet: the app shows 'complete personal information'"
    );
    // Pledges are stored with their time.
    let pledged = server.scalar(
        "SELECT pledge_discipline_at FROM candidates WHERE username = ?1",
        LI,
    );
    assert!(pledged.is_some());
    // The activation token is spent.
    assert!(
        client
            .activate(activation(&needed.activation_token))
            .await
            .is_err()
    );

    // Later entries: ticket signs in directly; username + password too.
    let again = server.client();
    assert!(matches!(
        again
            .enter_with_ticket(&server.ticket(LI, Duration::minutes(5)))
            .await
            .unwrap(),
        Entry::SignedIn(_)
    ));
    let app = server.client();
    app.login(LI, PASSWORD).await.unwrap();
    assert_eq!(app.dossier().await.unwrap().profile.username, LI);
}

#[tokio::test]
async fn expired_forged_and_reused_tickets_are_refused() {
    let server = TestServer::start().await;
    let client = server.client();
    let ticket = server.ticket(WANG, Duration::minutes(5));
    client.enter_with_ticket(&ticket).await.unwrap();
    assert_eq!(
        code(&client.enter_with_ticket(&ticket).await.unwrap_err()),
        ErrorCode::TicketUsed
    );

    let expired = server.ticket(WANG, Duration::seconds(-1));
    assert_eq!(
        code(&client.enter_with_ticket(&expired).await.unwrap_err()),
        ErrorCode::TicketExpired
    );

    // Signed with another district's secret.
    let forged = dossier_server::auth::Auth::issue_ticket(
        WANG,
        b"not the district's secret",
        OffsetDateTime::now_utc(),
        Duration::minutes(5),
    );
    assert_eq!(
        code(&client.enter_with_ticket(&forged).await.unwrap_err()),
        ErrorCode::TicketInvalid
    );
    // A valid ticket for one candidate edited to name another.
    let good = server.ticket(WANG, Duration::minutes(5));
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    parts[1] = base64_url(ZHANG);
    assert_eq!(
        code(
            &client
                .enter_with_ticket(&parts.join("."))
                .await
                .unwrap_err()
        ),
        ErrorCode::TicketInvalid
    );
    // Longer-lived than the registration system may issue.
    let long = server.ticket(WANG, Duration::days(2));
    assert_eq!(
        code(&client.enter_with_ticket(&long).await.unwrap_err()),
        ErrorCode::TicketInvalid
    );
    assert_eq!(
        code(&client.enter_with_ticket("garbage").await.unwrap_err()),
        ErrorCode::TicketInvalid
    );
}

fn base64_url(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | (c as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_and_unknown_users_look_the_same() {
    let server = TestServer::start().await;
    server.activated(ZHANG).await;
    let client = server.client();
    let wrong = client.login(ZHANG, "Wrong0000").await.unwrap_err();
    let unknown = client
        .login("no-such-candidate", "Wrong0000")
        .await
        .unwrap_err();
    match (&wrong, &unknown) {
        (ClientError::SignedOut { message: a }, ClientError::SignedOut { message: b }) => {
            assert_eq!(a, b)
        }
        other => panic!("both must be the same refusal: {other:?}"),
    }
    for _ in 0..3 {
        let _ = client.login(ZHANG, "Wrong0000").await;
    }
    // Now even the right password waits: growing delays after repeated failures.
    let throttled = client.login(ZHANG, PASSWORD).await.unwrap_err();
    assert_eq!(code(&throttled), ErrorCode::Throttled);
    assert!(
        throttled
            .retry_after()
            .is_some_and(|d| d >= StdDuration::from_secs(1))
    );
    assert_eq!(throttled.action(), Action::RetryLater);
    for _ in 0..4 {
        let _ = client.login("no-such-candidate", "Wrong0000").await;
    }
    assert_eq!(
        code(
            &client
                .login("no-such-candidate", "Wrong0000")
                .await
                .unwrap_err()
        ),
        ErrorCode::Throttled
    );
}

#[tokio::test]
async fn password_recovery_by_security_question() {
    let server = TestServer::start().await;
    let old = server.activated(ZHANG).await;
    let client = server.client();
    assert_eq!(
        client.recovery_question(ZHANG).await.unwrap(),
        "我的出生地？"
    );
    let request = |answer: &str| RecoveryRequest {
        username: ZHANG.into(),
        security_answer: answer.into(),
        new_password: "NewPassw0rd".into(),
        new_password_confirm: "NewPassw0rd".into(),
    };
    assert!(client.recover(&request("上海")).await.is_err());
    client.recover(&request(" 北京 ")).await.unwrap();
    assert!(client.login(ZHANG, PASSWORD).await.is_err());
    client.login(ZHANG, "NewPassw0rd").await.unwrap();
    // Recovery signs out every earlier session.
    assert_eq!(old.dossier().await.unwrap_err().action(), Action::SignIn);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_session() {
    let server = TestServer::start().await;
    let client = server.activated(ZHANG).await;
    // Sign in a second time with raw requests to hold the tokens ourselves.
    let http = dossier_tests::http();
    let grant = server.raw_login(ZHANG, PASSWORD).await;
    let first_refresh = grant["refresh_token"].as_str().unwrap().to_string();
    let refresh = |token: String| {
        let http = http.clone();
        let url = format!("{}/api/v1/auth/refresh", server.base);
        async move {
            http.post(url)
                .json(&serde_json::json!({"refresh_token": token}))
                .send()
                .await
                .unwrap()
        }
    };
    let rotated = refresh(first_refresh.clone()).await;
    assert_eq!(rotated.status(), 200);
    let rotated: serde_json::Value = rotated.json().await.unwrap();
    let new_access = rotated["access_token"].as_str().unwrap().to_string();
    assert_ne!(rotated["refresh_token"], grant["refresh_token"]);
    let dossier = |token: String| {
        let http = http.clone();
        let url = format!("{}/api/v1/dossier", server.base);
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(dossier(new_access.clone()).await, 200);
    assert_eq!(
        dossier(grant["access_token"].as_str().unwrap().to_string()).await,
        401,
        "the old access token ends with the rotation"
    );
    // The spent refresh token comes back: stolen. The whole session ends.
    assert_eq!(refresh(first_refresh).await.status(), 401);
    assert_eq!(dossier(new_access).await, 401);
    assert_eq!(
        refresh(rotated["refresh_token"].as_str().unwrap().to_string())
            .await
            .status(),
        401
    );
    // Other sessions of the same candidate are untouched; the client refreshes by itself.
    client.refresh().await.unwrap();
    assert!(client.dossier().await.is_ok());
}

#[tokio::test]
async fn personal_information_is_completed_and_edited_any_time() {
    let server = TestServer::start().await;
    let client = server.activated(LI).await;
    assert!(!client.profile().await.unwrap().complete);
    let bad = client
        .update_profile(&ProfileUpdate {
            mobile: Some("12345".into()),
            email: None,
        })
        .await
        .unwrap_err();
    assert_eq!(code(&bad), ErrorCode::InvalidProfile);
    let profile = client
        .update_profile(&ProfileUpdate {
            mobile: Some("13912345678".into()),
            email: Some("li@example.cn".into()),
        })
        .await
        .unwrap();
    assert!(profile.complete);
    assert_eq!(profile.id_number_masked, "110***********2345");
    // After the window, still editable (it is how the SMS reaches them).
    server.set_window(
        OffsetDateTime::now_utc() - Duration::days(10),
        OffsetDateTime::now_utc() - Duration::days(1),
    );
    client
        .update_profile(&ProfileUpdate {
            mobile: Some("13912345679".into()),
            email: None,
        })
        .await
        .unwrap();
    client
        .register_push_token(&PushTokenRegistration {
            platform: PushPlatform::Huawei,
            token: "hms-token-1".into(),
        })
        .await
        .unwrap();
}

// 2. The district's material list, evaluated per candidate.

fn id_subject(d: &dossier_core::api::DossierView) -> dossier_core::api::Subject {
    d.materials[0].category.subject
}

#[tokio::test]
async fn material_list_shows_every_category_with_requirements_for_this_candidate() {
    let server = TestServer::start().await;
    let zhang = server.activated(ZHANG).await.dossier().await.unwrap();
    let wang = server.activated(WANG).await.dossier().await.unwrap();
    let codes: Vec<&str> = zhang
        .materials
        .iter()
        .map(|m| m.category.code.as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "id_card",
            "diploma",
            "degree",
            "probation",
            "assistant_certificate",
            "work_proof",
            "other",
            "id_holding"
        ]
    );
    // A photo of the candidate holding the card: the page keeps it whole.
    let holding = zhang.materials.last().unwrap();
    assert_eq!(holding.category.subject, dossier_core::api::Subject::Person);
    assert_eq!(id_subject(&zhang), dossier_core::api::Subject::Document);
    let id = &zhang.materials[0];
    assert_eq!((id.category.min_images, id.category.max_images), (2, 2));
    assert_eq!(id.category.slot_labels, ["正面", "反面"]);
    assert!(id.required && !id.locked && id.can_upload);
    assert!(id.category.example_url.is_some());
    // "必传" for some candidates: evaluated per candidate.
    let cert = |d: &dossier_core::api::DossierView| {
        d.materials
            .iter()
            .find(|m| m.category.code == "assistant_certificate")
            .unwrap()
            .clone()
    };
    assert!(!cert(&zhang).required);
    assert!(cert(&wang).required);
    assert!(
        cert(&wang)
            .category
            .condition_text
            .as_deref()
            .unwrap()
            .starts_with("必传")
    );
    assert!(wang.missing.contains(&"assistant_certificate".to_string()));
    assert!(!zhang.missing.contains(&"assistant_certificate".to_string()));
    assert_eq!(zhang.state, DossierState::Draft);
    assert!(!zhang.can_submit);
    // The example image is served, publicly.
    let url = format!(
        "{}{}",
        server.base,
        id.category.example_url.as_ref().unwrap()
    );
    let example = reqwest::get(url).await.unwrap();
    assert_eq!(example.headers()["content-type"], "image/png");
}

// 3. Uploads: count limits, delete and upload again, slots, replace.

#[tokio::test]
async fn uploads_respect_the_count_and_delete_frees_a_slot() {
    let server = TestServer::start().await;
    let client = server.activated(ZHANG).await;
    let front = client.upload(&upload("id_card", photo(1))).await.unwrap();
    let back = client.upload(&upload("id_card", photo(2))).await.unwrap();
    assert_eq!((front.slot, back.slot), (0, 1));
    let third = client
        .upload(&upload("id_card", photo(3)))
        .await
        .unwrap_err();
    assert_eq!(code(&third), ErrorCode::CountReached);
    assert_eq!(third.action(), Action::UserAction);

    // The minus button, then upload again: the freed slot is reused.
    client.delete_image(front.id).await.unwrap();
    let again = client.upload(&upload("id_card", photo(4))).await.unwrap();
    assert_eq!(again.slot, 0);
    // Full: a third image is refused however it asks; replace swaps in place.
    let full = client
        .upload(&UploadRequest {
            slot: Some(1),
            ..upload("id_card", photo(5))
        })
        .await
        .unwrap_err();
    assert_eq!(code(&full), ErrorCode::CountReached);
    let replaced = client
        .upload(&UploadRequest {
            replaces: Some(back.id),
            ..upload("id_card", photo(6))
        })
        .await
        .unwrap();
    assert_eq!(replaced.slot, 1);
    let view = client.dossier().await.unwrap();
    let ids: Vec<Uuid> = view.materials[0].images.iter().map(|i| i.id).collect();
    assert_eq!(ids, [again.id, replaced.id]);
    // The stored bytes are ours, byte for byte.
    assert_eq!(
        sha256_hex(&client.image_bytes(replaced.id).await.unwrap()),
        replaced.sha256
    );
    assert_eq!(
        code(
            &client
                .upload(&upload("no_such_category", photo(7)))
                .await
                .unwrap_err()
        ),
        ErrorCode::UnknownCategory
    );
    // In a category with free slots, an explicit slot that is taken is refused, a free one is used.
    client
        .upload(&UploadRequest {
            slot: Some(2),
            ..upload("probation", photo(8))
        })
        .await
        .unwrap();
    let taken = client
        .upload(&UploadRequest {
            slot: Some(2),
            ..upload("probation", photo(9))
        })
        .await
        .unwrap_err();
    assert_eq!(code(&taken), ErrorCode::SlotTaken);
    let beyond = client
        .upload(&UploadRequest {
            slot: Some(3),
            ..upload("probation", photo(10))
        })
        .await
        .unwrap_err();
    assert_eq!(code(&beyond), ErrorCode::InvalidField);
    assert_eq!(
        client
            .upload(&upload("probation", photo(11)))
            .await
            .unwrap()
            .slot,
        0
    );
}

// 4. Submit: refused while required categories are short, then everything locks.

#[tokio::test]
async fn submit_names_missing_categories_then_locks_everything() {
    let server = TestServer::start().await;
    let client = server.activated(ZHANG).await;
    client.upload(&upload("id_card", photo(1))).await.unwrap();
    let refused = client.submit().await.unwrap_err();
    assert_eq!(code(&refused), ErrorCode::MissingRequired);
    let ClientError::Refused { body, .. } = &refused else {
        unreachable!()
    };
    assert_eq!(
        body.missing,
        ["id_card", "diploma", "probation", "work_proof"]
    );

    client.upload(&upload("id_card", photo(2))).await.unwrap();
    for (c, s) in [("diploma", 3), ("probation", 4), ("work_proof", 5)] {
        client.upload(&upload(c, photo(s))).await.unwrap();
    }
    let receipt = client.submit().await.unwrap();
    assert_eq!(receipt.message, SUBMITTED_TEXT);
    let view = client.dossier().await.unwrap();
    assert_eq!(view.state, DossierState::Submitted);
    assert!(
        view.materials
            .iter()
            .all(|m| m.locked && m.state == MaterialState::Submitted && !m.can_upload)
    );
    assert!(
        view.materials
            .iter()
            .flat_map(|m| &m.images)
            .all(|i| i.locked)
    );
    // Locked: no upload (even to an empty optional category), no delete, no second submit.
    assert_eq!(
        code(
            &client
                .upload(&upload("degree", photo(9)))
                .await
                .unwrap_err()
        ),
        ErrorCode::Locked
    );
    let image = view.materials[0].images[0].id;
    assert_eq!(
        code(&client.delete_image(image).await.unwrap_err()),
        ErrorCode::Locked
    );
    assert_eq!(
        code(&client.submit().await.unwrap_err()),
        ErrorCode::NothingToSubmit
    );
}

#[tokio::test]
async fn only_returned_materials_unlock_and_resubmit_locks_them_again() {
    let server = TestServer::start().await;
    let client = server.activated(ZHANG).await;
    fill_required(&client).await;
    client.submit().await.unwrap();
    // A reviewer returns the diploma (the review workflow's storage call).
    let id = server.candidate_id(ZHANG);
    let now = OffsetDateTime::now_utc();
    server
        .state
        .db
        .blocking_write(|tx| {
            storage::return_material(
                tx,
                id,
                "diploma",
                "blurry",
                "毕业证书照片模糊，请重新上传。",
                now,
            )?;
            storage::set_dossier_state(tx, id, DossierState::Returned, None)
        })
        .unwrap();
    let view = client.dossier().await.unwrap();
    let diploma = view
        .materials
        .iter()
        .find(|m| m.category.code == "diploma")
        .unwrap();
    assert_eq!(diploma.state, MaterialState::Returned);
    assert!(!diploma.locked && diploma.note.as_ref().unwrap().message.contains("模糊"));
    assert!(
        view.materials
            .iter()
            .filter(|m| m.category.code != "diploma")
            .all(|m| m.locked)
    );
    // Replace the returned image; the others stay locked.
    let old = diploma.images[0].id;
    client
        .upload(&UploadRequest {
            replaces: Some(old),
            ..upload("diploma", photo(77))
        })
        .await
        .unwrap();
    assert_eq!(
        code(
            &client
                .upload(&upload("degree", photo(78)))
                .await
                .unwrap_err()
        ),
        ErrorCode::Locked
    );
    client.submit().await.unwrap();
    let view = client.dossier().await.unwrap();
    assert_eq!(view.state, DossierState::Submitted);
    assert!(view.materials.iter().all(|m| m.locked));
}

// 5. Messages from reviewers, newest first.

#[tokio::test]
async fn messages_newest_first_and_marked_read_by_their_owner_only() {
    let server = TestServer::start().await;
    let zhang = server.activated(ZHANG).await;
    let li = server.activated(LI).await;
    let id = server.candidate_id(ZHANG);
    let now = OffsetDateTime::now_utc();
    let message = |title: &str, at| MessageRow {
        id: Uuid::new_v4(),
        kind: MessageKind::Returned,
        title: title.into(),
        body: "请按要求处理。".into(),
        categories: vec!["diploma".into()],
        created_at: at,
        read_at: None,
    };
    let (older, newer) = (
        message("第一次审核意见", now - Duration::hours(2)),
        message("第二次审核意见", now),
    );
    for m in [&older, &newer] {
        server
            .state
            .db
            .blocking_write(|tx| storage::insert_message(tx, id, m))
            .unwrap();
    }
    let list = zhang.messages().await.unwrap();
    assert_eq!(
        list.messages
            .iter()
            .map(|m| m.title.as_str())
            .collect::<Vec<_>>(),
        ["第二次审核意见", "第一次审核意见"]
    );
    assert_eq!(list.unread, 2);
    assert_eq!(zhang.dossier().await.unwrap().unread_messages, 2);
    assert_eq!(
        code(&li.mark_read(newer.id).await.unwrap_err()),
        ErrorCode::NotFound
    );
    zhang.mark_read(newer.id).await.unwrap();
    let list = zhang.messages().await.unwrap();
    assert_eq!(list.unread, 1);
    assert!(list.messages[0].read && !list.messages[1].read);
    assert!(li.messages().await.unwrap().messages.is_empty());
}

// 6. The window, by the server's clock, on every request.

#[tokio::test]
async fn outside_the_window_everything_is_read_only() {
    let server = TestServer::start().await;
    let client = server.activated(ZHANG).await;
    let image = client.upload(&upload("id_card", photo(1))).await.unwrap();
    let now = OffsetDateTime::now_utc();
    server.set_window(now - Duration::days(30), now - Duration::seconds(1));
    assert_eq!(
        code(
            &client
                .upload(&upload("id_card", photo(2)))
                .await
                .unwrap_err()
        ),
        ErrorCode::WindowClosed
    );
    assert_eq!(
        code(&client.delete_image(image.id).await.unwrap_err()),
        ErrorCode::WindowClosed
    );
    assert_eq!(
        code(&client.submit().await.unwrap_err()),
        ErrorCode::WindowClosed
    );
    let view = client.dossier().await.unwrap();
    assert_eq!(view.window.state, dossier_core::api::WindowState::Closed);
    assert!(view.materials.iter().all(|m| !m.can_upload) && !view.can_submit);
    assert_eq!(
        client.image_bytes(image.id).await.unwrap().len() as u64,
        image.bytes,
        "reads still work"
    );

    server.set_window(now + Duration::days(1), now + Duration::days(10));
    assert_eq!(
        code(
            &client
                .upload(&upload("id_card", photo(3)))
                .await
                .unwrap_err()
        ),
        ErrorCode::WindowNotOpen
    );
}

// Uploads: idempotency, size, length, content.

#[tokio::test]
async fn idempotent_replays_store_once_and_key_reuse_with_other_bytes_is_422() {
    let server = TestServer::start().await;
    let client = server.activated(ZHANG).await;
    let request = upload("diploma", photo(1));
    let first = client.upload(&request).await.unwrap();
    let replay = client.upload(&request).await.unwrap();
    assert_eq!(first, replay, "the first response again");
    let other = client
        .upload(&UploadRequest {
            jpeg: photo(2),
            ..request.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(code(&other), ErrorCode::IdempotencyConflict);
    assert_eq!(client.dossier().await.unwrap().materials[1].images.len(), 1);
    // The key is kept: even after the image is deleted, a late retry does not store it again.
    client.delete_image(first.id).await.unwrap();
    assert_eq!(client.upload(&request).await.unwrap(), first);
    assert!(
        client.dossier().await.unwrap().materials[1]
            .images
            .is_empty()
    );
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_store_exactly_one_image() {
    let server = TestServer::start().await;
    let client = server.activated(ZHANG).await;
    let request = upload("other", photo(42));
    let answers = futures::future::join_all((0..20).map(|_| {
        let (client, request) = (client.clone(), request.clone());
        async move { client.upload(&request).await }
    }))
    .await;
    let ids: std::collections::HashSet<Uuid> = answers
        .into_iter()
        .map(|a| a.expect("every request answered 201").id)
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(server.scalar("SELECT COUNT(*) FROM images", ""), Some(1));
}

/// Send raw HTTP and read the status line and body.
async fn raw(port: u16, request: &[u8], body: Option<&[u8]>) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    if let Some(body) = body {
        let _ = stream.write_all(body).await;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read until the answer is complete or the server closes; a bounded wait, never a sleep.
    loop {
        match tokio::time::timeout(StdDuration::from_secs(10), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
                    break;
                }
            }
            Ok(Err(_)) => break,
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn oversize_is_413_before_the_body_missing_length_411_and_text_is_refused() {
    let server = TestServer::start().await;
    let client = server.activated(ZHANG).await;
    let http = dossier_tests::http();
    let login = server.raw_login(ZHANG, PASSWORD).await;
    let token = login["access_token"].as_str().unwrap();
    let head = |length: &str| {
        format!(
            "POST /api/v1/dossier/materials/diploma/images HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Idempotency-Key: {}\r\nContent-Type: image/jpeg\r\n{length}\r\n",
            Uuid::new_v4()
        )
    };
    // 2 MB declared, not one byte sent: the answer comes anyway.
    let (status, text) = raw(
        server.port,
        head("Content-Length: 2000000\r\n").as_bytes(),
        None,
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("payload_too_large"));
    // Chunked, no length.
    let (status, text) = raw(
        server.port,
        head("Transfer-Encoding: chunked\r\n").as_bytes(),
        Some(b"5\r\nhello\r\n0\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 411, "{text}");
    // Exactly the budget + 1 byte, sent.
    let too_big = vec![0xFFu8; 200 * 1024 + 1];
    let answer = http
        .post(format!(
            "{}/api/v1/dossier/materials/diploma/images",
            server.base
        ))
        .bearer_auth(token)
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .header("Content-Type", "image/jpeg")
        .body(too_big)
        .send()
        .await;
    if let Ok(answer) = answer {
        assert_eq!(answer.status(), 413);
    }
    // A text file named .jpg, sent as image/jpeg.
    let text_file = client
        .upload(&upload("diploma", b"this is my diploma, honestly".to_vec()))
        .await
        .unwrap_err();
    assert_eq!(code(&text_file), ErrorCode::InvalidPhoto);
    let ClientError::Refused { status, body } = &text_file else {
        unreachable!()
    };
    assert_eq!(
        (*status, body.detail.as_deref()),
        (415, Some("not_an_image"))
    );
    // HEIC: typed, with what to do.
    let heic = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/photos/heic/samplefilehub.heif"
    ))
    .unwrap();
    let err = client.upload(&upload("diploma", heic)).await.unwrap_err();
    let ClientError::Refused { body, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(body.detail.as_deref(), Some("unsupported_format"));
    // No idempotency key.
    let answer = http
        .post(format!(
            "{}/api/v1/dossier/materials/diploma/images",
            server.base
        ))
        .bearer_auth(token)
        .header("Content-Type", "image/jpeg")
        .body(photo(1))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(
        client.dossier().await.unwrap().materials[1]
            .images
            .is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_candidate_cannot_reach_another_candidates_images_by_any_endpoint() {
    let server = TestServer::start().await;
    let a = server.activated(ZHANG).await;
    let b = server.activated(LI).await;
    let image = a.upload(&upload("id_card", photo(1))).await.unwrap();
    // Read, delete, replace: each answers "not found", as for an image that does not exist.
    assert_eq!(
        code(&b.image_bytes(image.id).await.unwrap_err()),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(&b.delete_image(image.id).await.unwrap_err()),
        ErrorCode::NotFound
    );
    let replace = b
        .upload(&UploadRequest {
            replaces: Some(image.id),
            ..upload("id_card", photo(2))
        })
        .await
        .unwrap_err();
    assert_eq!(code(&replace), ErrorCode::NotFound);
    // What A gets back: the right type, never sniffed, never cached.
    let login = server.raw_login(ZHANG, PASSWORD).await;
    let served = dossier_tests::http()
        .get(format!("{}{}", server.base, image.url))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert!(
        served.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    // Its thumbnail, for the page's list: a small JPEG of the same picture, A's only.
    let listed = a.dossier().await.unwrap().materials[0].images[0].clone();
    assert_eq!(listed.thumbnail_url, format!("{}/thumbnail", image.url));
    let thumbnail = dossier_tests::http()
        .get(format!("{}{}", server.base, listed.thumbnail_url))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(thumbnail.status(), 200);
    assert_eq!(thumbnail.headers()["content-type"], "image/jpeg");
    let small = image::load_from_memory(&thumbnail.bytes().await.unwrap()).unwrap();
    assert!(
        small.width().max(small.height()) <= 320,
        "{}x{}",
        small.width(),
        small.height()
    );
    let (w, h) = (image.width as f32, image.height as f32);
    assert!(
        (small.width() as f32 / small.height() as f32 - w / h).abs() < 0.02,
        "the same picture, smaller"
    );
    let other = server.raw_login(LI, PASSWORD).await;
    let refused = dossier_tests::http()
        .get(format!("{}{}", server.base, listed.thumbnail_url))
        .bearer_auth(other["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404, "another candidate's thumbnail");
    // B's own views never show it.
    let view = b.dossier().await.unwrap();
    assert!(view.materials.iter().all(|m| m.images.is_empty()));
    // Nothing changed for A.
    assert_eq!(
        sha256_hex(&a.image_bytes(image.id).await.unwrap()),
        image.sha256
    );
    assert_eq!(a.dossier().await.unwrap().materials[0].images.len(), 1);
    // Without any credentials: 401 on every candidate endpoint.
    let http = dossier_tests::http();
    for (method, path) in [
        ("GET", "/api/v1/dossier".to_string()),
        ("GET", format!("/api/v1/images/{}", image.id)),
        ("GET", format!("/api/v1/images/{}/thumbnail", image.id)),
        ("DELETE", format!("/api/v1/images/{}", image.id)),
        ("POST", "/api/v1/dossier/submit".into()),
        ("GET", "/api/v1/messages".into()),
        ("GET", "/api/v1/profile".into()),
    ] {
        let status = http
            .request(method.parse().unwrap(), format!("{}{path}", server.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "{method} {path}");
    }
}

#[tokio::test]
async fn web_sessions_use_an_httponly_cookie_and_need_the_csrf_token_to_change_anything() {
    let server = TestServer::start().await;
    server.activated(ZHANG).await;
    let http = dossier_tests::http();
    let login = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&serde_json::json!({"username": ZHANG, "password": PASSWORD, "mode": "web"}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let grant: serde_json::Value = login.json().await.unwrap();
    assert!(
        grant.get("access_token").is_none(),
        "no bearer token for the web page"
    );
    let csrf = grant["csrf_token"].as_str().unwrap().to_string();
    let session = cookie.split(';').next().unwrap().to_string();
    let get = http
        .get(format!("{}/api/v1/dossier", server.base))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let post = |with_csrf: bool| {
        let mut r = http
            .post(format!("{}/api/v1/dossier/submit", server.base))
            .header("Cookie", &session);
        if with_csrf {
            r = r.header("X-CSRF-Token", &csrf);
        }
        r.send()
    };
    assert_eq!(post(false).await.unwrap().status(), 403);
    // With the token the request goes through to the domain rule (nothing uploaded yet).
    assert_eq!(post(true).await.unwrap().status(), 422);
}

#[tokio::test]
async fn openapi_document_is_served_and_matches_the_committed_copy() {
    let server = TestServer::start().await;
    let served: serde_json::Value = reqwest::get(format!("{}/api/openapi.json", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        served, committed,
        "docs/openapi.json is stale: run `cargo run -p dossier-server --example openapi > docs/openapi.json`"
    );
    assert!(served["paths"]["/api/v1/dossier/materials/{category}/images"]["post"].is_object());
    assert_eq!(
        reqwest::get(format!("{}/api/docs/", server.base))
            .await
            .unwrap()
            .status(),
        200
    );
}
