//! The review workflow end to end: a candidate submits through core's client; a site reviewer
//! returns a material; the candidate replaces it and resubmits; the site passes, the district
//! approves, the administrator publishes and exports. Claims, stale decisions, the second factor,
//! the authorisation matrix and the audit chain.
use std::collections::HashMap;

use dossier_core::api::{DossierState, MaterialState, MessageKind, ResultOutcome};
use dossier_core::client::{Client, UploadRequest};
use dossier_server::staff::totp_code;
use dossier_tests::{CANDIDATES, StaffSession, TestServer, fill_required, photo, verdicts};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

const ZHANG: &str = CANDIDATES[0].username; // 东城区考点

fn upload(category: &str, seed: u32) -> UploadRequest<'_> {
    UploadRequest {
        category,
        jpeg: photo(seed),
        idempotency_key: Uuid::new_v4(),
        slot: None,
        replaces: None,
    }
}

/// Fill every required category and submit.
async fn submitted(server: &TestServer, username: &str) -> Client {
    let client = server.activated(username).await;
    fill_required(&client).await;
    client.submit().await.unwrap();
    client
}

fn approve_all(dossier: &Value) -> Vec<Value> {
    verdicts(dossier, None)
}

async fn staff(server: &TestServer) -> HashMap<&'static str, StaffSession> {
    let passwords = server.staff_passwords();
    let mut out = HashMap::new();
    for name in ["dongcheng", "xicheng", "district", "admin"] {
        out.insert(
            name,
            StaffSession::login(&server.base, name, &passwords[name]).await,
        );
    }
    out
}

#[tokio::test]
async fn return_replace_resubmit_pass_approve_publish_and_export() {
    let server = TestServer::start().await;
    let candidate = submitted(&server, ZHANG).await;
    let id = server.candidate_id(ZHANG);
    let staff = staff(&server).await;
    let site = &staff["dongcheng"];

    // The site's queue holds the dossier; the other site's does not.
    let (status, page) = site.get("/api/v1/review/queue?stage=site").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["entries"][0]["name"], "张明");
    assert_eq!(page["entries"][0]["id_number_masked"], "110***********1234");
    let (_, other) = staff["xicheng"]
        .get("/api/v1/review/queue?stage=site")
        .await;
    assert_eq!(other["total"], 0);

    // Claim, open, return the diploma with a reason and a message.
    let (status, _) = site
        .post(&format!("/api/v1/review/dossiers/{id}/claim"), json!({}))
        .await;
    assert_eq!(status, 200);
    let (_, dossier) = site.get(&format!("/api/v1/review/dossiers/{id}")).await;
    assert_eq!(dossier["version"], 1);
    assert_eq!(dossier["claim"]["by"], "dongcheng");
    let decisions = verdicts(
        &dossier,
        Some(("diploma", "毕业证书照片模糊，请重新拍摄上传。")),
    );
    let (status, body) = site
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            json!({"version": 1, "materials": decisions.clone(), "outcome": "pass"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str(), body["detail"].as_str()),
        (422, Some("decision_rules"), Some("returned_material")),
        "pass with a return: the rule named, for the console to word"
    );
    // A material left undecided: named by its code in `missing`, for the console to word.
    let (status, body) = site
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            json!({"version": 1, "materials": approve_all(&dossier)[1..].to_vec(), "outcome": "pass"}),
        )
        .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (422, Some("undecided")),
        "{body}"
    );
    assert_eq!(
        body["missing"][0],
        approve_all(&dossier)[0]["category"],
        "{body}"
    );
    let (status, body) = site
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            json!({"version": 1, "materials": decisions, "outcome": "return"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["stage"].as_str(), body["state"].as_str()),
        (Some("site"), Some("returned"))
    );

    // The candidate sees the message and exactly that material unlocked.
    let messages = candidate.messages().await.unwrap();
    assert_eq!(messages.messages[0].kind, MessageKind::Returned);
    assert!(
        messages.messages[0].body.contains("学历证书"),
        "the category by its name"
    );
    assert!(messages.messages[0].body.contains("模糊"));
    let view = candidate.dossier().await.unwrap();
    assert_eq!(view.state, DossierState::Returned);
    for m in &view.materials {
        let expected = match m.category.code.as_str() {
            "diploma" => MaterialState::Returned,
            _ if m.images.is_empty() => m.state,
            _ => MaterialState::Approved,
        };
        assert_eq!(m.state, expected, "{}", m.category.code);
    }
    let old = returned_diploma(&candidate).await;
    candidate
        .upload(&UploadRequest {
            replaces: Some(old),
            ..upload("diploma", 999)
        })
        .await
        .unwrap();
    candidate.submit().await.unwrap();

    // Back in the site's queue as resubmitted; the reviewer sees the old version beside the new.
    let (_, page) = site
        .get("/api/v1/review/queue?stage=site&resubmitted=true")
        .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["counts"]["resubmitted"], 1);
    site.post(&format!("/api/v1/review/dossiers/{id}/claim"), json!({}))
        .await;
    let (_, dossier) = site.get(&format!("/api/v1/review/dossiers/{id}")).await;
    assert_eq!(dossier["version"], 2);
    let diploma = dossier["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["category"]["code"] == "diploma")
        .unwrap();
    assert_eq!(diploma["previous"][0]["id"], old.to_string());
    assert_ne!(diploma["images"][0]["id"], old.to_string());
    let (status, image) = site
        .get(diploma["previous"][0]["url"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "the old version can be viewed: {image}");

    // A decision made on the old version fails; on the new one it passes to the district.
    let all = approve_all(&dossier);
    let (status, body) = site
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            json!({"version": 1, "materials": all.clone(), "outcome": "pass"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("stale_version"))
    );
    let (status, body) = site
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            json!({"version": 2, "materials": all.clone(), "outcome": "pass"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stage"], "district");

    // The district approves; nothing shows to the candidate until publishing.
    let district = &staff["district"];
    let (_, page) = district.get("/api/v1/review/queue?stage=district").await;
    assert_eq!(page["total"], 1);
    district
        .post(&format!("/api/v1/review/dossiers/{id}/claim"), json!({}))
        .await;
    let (status, body) = district
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            json!({"version": 2, "materials": all, "outcome": "approve"}),
        )
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    assert!(candidate.dossier().await.unwrap().result.is_none());

    // Publishing waits for the end of the district review window.
    let admin = &staff["admin"];
    let (status, body) = admin.post("/api/v1/admin/publish", json!({})).await;
    assert_eq!(
        (status, body["code"].as_str(), body["detail"].as_str()),
        (403, Some("window_not_open"), Some("district_review_open")),
        "it says why: the district review is still open"
    );
    let (_, mut windows) = admin.get("/api/v1/admin/windows").await;
    let past = OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let at = |t: OffsetDateTime| {
        json!(
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        )
    };
    windows["district_review_closes_at"] = at(past);
    windows["district_review_opens_at"] = at(past - time::Duration::days(1));
    // A review that would end while uploads are still open is refused, saying so.
    let (status, body) = admin
        .call(Method::PUT, "/api/v1/admin/windows", Some(windows.clone()))
        .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (422, Some("review_closes_before_uploads")),
        "{body}"
    );
    windows["upload_closes_at"] = at(past - time::Duration::days(2));
    windows["upload_opens_at"] = at(past - time::Duration::days(9));
    let (status, body) = admin
        .call(Method::PUT, "/api/v1/admin/windows", Some(windows))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, receipt) = admin.post("/api/v1/admin/publish", json!({})).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(
        (receipt["approved"].as_u64(), receipt["undecided"].as_u64()),
        (Some(1), Some(0))
    );
    let result = candidate
        .dossier()
        .await
        .unwrap()
        .result
        .expect("published");
    assert_eq!(result.outcome, ResultOutcome::Approved);
    assert_eq!(
        candidate.messages().await.unwrap().messages[0].kind,
        MessageKind::Result
    );

    // The export, for the district and for one site.
    let (status, csv) = admin.get("/api/v1/admin/results.csv").await;
    assert_eq!(status, 200);
    let csv = csv.as_str().unwrap().to_string();
    assert!(csv.starts_with('\u{feff}'), "a BOM, for Excel");
    let line = csv
        .lines()
        .find(|l| l.contains("张明"))
        .expect("张明's line");
    assert!(line.contains("审核通过"), "the guides' words: {line}");
    assert!(
        line.contains(r#""=""110101199003091234""""#),
        "the ID number as text, all 18 digits kept in Excel: {line}"
    );
    assert!(
        !csv.contains("approved") && !csv.contains(",done,"),
        "no code of the API"
    );
    // Every candidate of the roster, also those who never submitted.
    let roster = server
        .scalar("SELECT COUNT(*) FROM candidates", "")
        .unwrap();
    assert_eq!(
        csv.lines().count() as i64,
        roster + 1,
        "a header and every candidate"
    );
    assert!(csv.contains("未提交"), "{csv}");
    let (_, elsewhere) = admin
        .get("/api/v1/admin/results.csv?exam_site=%E8%A5%BF%E5%9F%8E%E5%8C%BA%E8%80%83%E7%82%B9")
        .await;
    assert!(!elsewhere.as_str().unwrap().contains("张明"));

    // Notifications were queued in the same transactions: a push and an SMS fallback per message.
    let queued = server.scalar(
        "SELECT COUNT(*) FROM outbox WHERE candidate_id = ?1",
        &id.to_string(),
    );
    assert_eq!(queued, Some(4), "return and result: push + SMS each");

    // The audit trail: logins, claims, decisions, unlocks, publishing; and the chain holds.
    let (_, dossier) = admin.get(&format!("/api/v1/review/dossiers/{id}")).await;
    let actions: Vec<&str> = dossier["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for expected in [
        "claim",
        "unlock",
        "return",
        "approve",
        "dossier_return",
        "dossier_pass",
        "dossier_approve",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(server.state.admin.verify_audit().await.unwrap().is_ok());
}

#[tokio::test]
async fn claims_keep_two_reviewers_off_one_dossier_and_expire() {
    let server = TestServer::start().await;
    submitted(&server, ZHANG).await;
    let id = server.candidate_id(ZHANG);
    let staff = staff(&server).await;
    let (status, created) = staff["admin"]
        .post(
            "/api/v1/admin/staff",
            json!({"username": "dongcheng2", "name": "第二审核员", "role": "site_reviewer", "exam_site": "东城区考点"}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let second = StaffSession::login(
        &server.base,
        "dongcheng2",
        created["password"].as_str().unwrap(),
    )
    .await;
    let first = &staff["dongcheng"];
    let claim = format!("/api/v1/review/dossiers/{id}/claim");
    assert_eq!(first.post(&claim, json!({})).await.0, 200);
    let (status, body) = second.post(&claim, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("claimed_by_other"))
    );
    assert!(body["message"].as_str().unwrap().contains("dongcheng"));
    let (_, dossier) = second.get(&format!("/api/v1/review/dossiers/{id}")).await;
    let decide = json!({"version": 1, "materials": approve_all(&dossier), "outcome": "pass"});
    let (status, body) = second
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            decide.clone(),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("claimed_by_other"))
    );
    let (_, page) = second.get("/api/v1/review/queue?stage=site").await;
    assert_eq!(page["entries"][0]["claimed_by"], "dongcheng");
    // The first reviewer walks away; the claim goes stale.
    server
        .state
        .db
        .blocking_write(|tx| tx.execute("UPDATE reviews SET claim_expires_at = 0", []))
        .unwrap();
    assert_eq!(second.post(&claim, json!({})).await.0, 200);
    let (status, body) = first
        .post(
            &format!("/api/v1/review/dossiers/{id}/decision"),
            decide.clone(),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("claimed_by_other"))
    );
    let (status, _) = second
        .post(&format!("/api/v1/review/dossiers/{id}/decision"), decide)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_required_second_factor_is_set_up_then_asked_at_every_sign_in() {
    let server = TestServer::start().await;
    let staff = staff(&server).await;
    let (status, created) = staff["admin"]
        .post(
            "/api/v1/admin/staff",
            json!({"username": "strict", "name": "严格审核员", "role": "district_reviewer", "totp_required": true}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let password = created["password"].as_str().unwrap().to_string();
    let session = StaffSession::login(&server.base, "strict", &password).await;
    let (status, body) = session.get("/api/v1/review/queue?stage=district").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("totp_required")),
        "nothing before set-up"
    );
    let (status, enrollment) = session.post("/api/v1/staff/totp/enroll", json!({})).await;
    assert_eq!(status, 200);
    assert!(
        enrollment["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let secret = server
        .state
        .db
        .blocking_write(|tx| dossier_server::storage::review::staff_by_username(tx, "strict"))
        .unwrap()
        .totp_secret
        .unwrap();
    let (status, _) = session
        .post("/api/v1/staff/totp/confirm", json!({"code": "000000"}))
        .await;
    assert_eq!(status, 401, "a wrong code does not enable it");
    let code = totp_code(&secret, "strict", OffsetDateTime::now_utc());
    assert_eq!(
        session
            .post("/api/v1/staff/totp/confirm", json!({"code": code}))
            .await
            .0,
        204
    );
    assert_eq!(
        session.get("/api/v1/review/queue?stage=district").await.0,
        200
    );
    let (status, body) = StaffSession::try_login(&server.base, "strict", &password, None)
        .await
        .err()
        .unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("totp_required"))
    );
    // The code that confirmed the set-up is spent (RFC 6238 §5.2): it does not sign in again.
    let (status, body) = StaffSession::try_login(&server.base, "strict", &password, Some(&code))
        .await
        .err()
        .expect("a spent code is refused");
    assert_eq!(
        (status, body["code"].as_str(), body["detail"].as_str()),
        (401, Some("totp_required"), Some("code_used"))
    );
    // The next one does (one step of clock drift is allowed), once.
    let code = totp_code(
        &secret,
        "strict",
        OffsetDateTime::now_utc() + time::Duration::seconds(30),
    );
    assert!(
        StaffSession::try_login(&server.base, "strict", &password, Some(&code))
            .await
            .is_ok()
    );
    let (status, body) = StaffSession::try_login(&server.base, "strict", &password, Some(&code))
        .await
        .err()
        .expect("used twice");
    assert_eq!(
        (status, body["detail"].as_str()),
        (401, Some("code_used")),
        "{body}"
    );
    // Failures and successes are audited with the address they came from.
    // (no code, and the spent code twice)
    let failed = server.scalar("SELECT COUNT(*) FROM audit WHERE action = 'login_failed' AND actor = ?1 AND ip = '127.0.0.1'", "strict");
    assert_eq!(failed, Some(3));
}

/// Every role and scope against every reviewer endpoint: the expected answer for each.
#[tokio::test]
async fn the_authorisation_matrix() {
    let server = TestServer::start().await;
    let candidate = submitted(&server, ZHANG).await;
    let id = server.candidate_id(ZHANG);
    let image = candidate.dossier().await.unwrap().materials[0].images[0].id;
    let staff = staff(&server).await;
    let candidate_token = server.raw_login(ZHANG, dossier_tests::PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let nobody = StaffSession::with_token(&server.base, "not-a-token");
    let as_candidate = StaffSession::with_token(&server.base, &candidate_token);
    let decide = json!({"version": 1, "materials": [], "outcome": "pending", "reason": "核对中"});
    let new_staff = json!({"username": "xx", "name": "x", "role": "district_reviewer"});
    let endpoints: Vec<(&str, Method, String, Option<Value>)> = vec![
        (
            "site queue",
            Method::GET,
            "/api/v1/review/queue?stage=site".into(),
            None,
        ),
        (
            "open",
            Method::GET,
            format!("/api/v1/review/dossiers/{id}"),
            None,
        ),
        (
            "image",
            Method::GET,
            format!("/api/v1/review/images/{image}"),
            None,
        ),
        (
            "thumbnail",
            Method::GET,
            format!("/api/v1/review/images/{image}/thumbnail"),
            None,
        ),
        (
            "claim",
            Method::POST,
            format!("/api/v1/review/dossiers/{id}/claim"),
            Some(json!({})),
        ),
        (
            "decide",
            Method::POST,
            format!("/api/v1/review/dossiers/{id}/decision"),
            Some(decide),
        ),
        (
            "create staff",
            Method::POST,
            "/api/v1/admin/staff".into(),
            Some(new_staff),
        ),
        ("windows", Method::GET, "/api/v1/admin/windows".into(), None),
        (
            "export",
            Method::GET,
            "/api/v1/admin/results.csv".into(),
            None,
        ),
        (
            "publish",
            Method::POST,
            "/api/v1/admin/publish".into(),
            Some(json!({})),
        ),
        (
            "list staff",
            Method::GET,
            "/api/v1/admin/staff".into(),
            None,
        ),
        (
            "change staff",
            Method::PATCH,
            "/api/v1/admin/staff/xicheng".into(),
            Some(json!({"totp_required": false})),
        ),
    ];
    // Rows: who; columns: the endpoints above, in order. The site reviewer decides before the
    // district reviewer's claim (the dossier is at the site stage, so theirs is refused).
    let expected: Vec<(&str, &StaffSession, [u16; 12])> = vec![
        (
            "no token",
            &nobody,
            [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
        ),
        (
            "candidate token",
            &as_candidate,
            [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
        ),
        (
            "site reviewer, other site",
            &staff["xicheng"],
            [200, 404, 404, 404, 404, 404, 403, 200, 403, 403, 403, 403],
        ),
        (
            "district reviewer",
            &staff["district"],
            [200, 200, 200, 200, 409, 409, 403, 200, 403, 403, 403, 403],
        ),
        (
            "site reviewer, this site",
            &staff["dongcheng"],
            [200, 200, 200, 200, 200, 200, 403, 200, 403, 403, 403, 403],
        ),
        (
            "administrator",
            &staff["admin"],
            [200, 200, 200, 200, 403, 403, 200, 200, 200, 403, 200, 200],
        ),
    ];
    let mut wrong = Vec::new();
    for (who, session, statuses) in &expected {
        for ((name, method, path, body), want) in endpoints.iter().zip(statuses) {
            let (got, answer) = session.call(method.clone(), path, body.clone()).await;
            if got != *want {
                wrong.push(format!("{who} → {name}: {got} (expected {want}) {answer}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // What the out-of-scope reviewer's queue shows: nothing of the other site.
    let (_, page) = staff["xicheng"].get("/api/v1/review/queue?stage=site&exam_site=%E4%B8%9C%E5%9F%8E%E5%8C%BA%E8%80%83%E7%82%B9").await;
    assert_eq!(
        page["total"], 0,
        "a site filter cannot widen a site reviewer's scope"
    );
}

#[tokio::test]
async fn staff_changes_apply_at_once_and_every_sign_in_is_audited() {
    let server = TestServer::start().await;
    submitted(&server, ZHANG).await;
    let id = server.candidate_id(ZHANG);
    let staff = staff(&server).await;
    let admin = &staff["admin"];
    let dossier = format!("/api/v1/review/dossiers/{id}");
    assert_eq!(staff["dongcheng"].get(&dossier).await.0, 200);

    // The administrator lists the district's accounts and moves 东城's reviewer to 西城.
    let (status, list) = admin.get("/api/v1/admin/staff").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["staff"].as_array().unwrap().len(), 4);
    let (status, changed) = admin
        .call(
            Method::PATCH,
            "/api/v1/admin/staff/dongcheng",
            Some(json!({"exam_site": "西城区考点"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["exam_site"], "西城区考点");
    assert_eq!(
        staff["dongcheng"].get(&dossier).await.0,
        404,
        "the new scope applies to the next request"
    );
    // A site reviewer needs a site; an administrator cannot change their own account.
    let (status, _) = admin
        .call(
            Method::PATCH,
            "/api/v1/admin/staff/district",
            Some(json!({"role": "site_reviewer"})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = admin
        .call(
            Method::PATCH,
            "/api/v1/admin/staff/admin",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 403);
    // Disabled: the session ends and sign-in is refused.
    let (status, _) = admin
        .call(
            Method::PATCH,
            "/api/v1/admin/staff/xicheng",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(staff["xicheng"].get("/api/v1/staff/me").await.0, 401);
    let passwords = server.staff_passwords();
    assert!(
        StaffSession::try_login(&server.base, "xicheng", &passwords["xicheng"], None)
            .await
            .is_err()
    );

    // Candidates' sign-ins, failed and not, are in the audit log with their address.
    server.raw_login(ZHANG, "wrong password").await;
    server.raw_login(ZHANG, dossier_tests::PASSWORD).await;
    let actions: Vec<(String, String, Option<String>)> =
        dossier_tests::Database(server.state.db.clone()).rows(
            "SELECT actor, action, ip FROM audit ORDER BY seq",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        );
    let has = |actor: &str, action: &str| {
        actions
            .iter()
            .any(|(a, b, ip)| a == actor && b == action && ip.as_deref() == Some("127.0.0.1"))
    };
    let candidate = format!("candidate:{ZHANG}");
    assert!(has(&candidate, "login_failed"), "{actions:?}");
    assert!(has(&candidate, "login"), "{actions:?}");
    assert!(has("admin", "staff_changed"), "{actions:?}");
    assert!(
        actions
            .iter()
            .any(|(a, b, _)| a == "demo" && b == "catalogue_changed"),
        "the catalogue's loading is audited: {actions:?}"
    );
}

#[tokio::test]
async fn audit_verify_fails_after_any_single_entry_is_edited_or_removed() {
    let server = TestServer::start().await;
    submitted(&server, ZHANG).await;
    let id = server.candidate_id(ZHANG);
    let staff = staff(&server).await;
    staff["dongcheng"]
        .post(&format!("/api/v1/review/dossiers/{id}/claim"), json!({}))
        .await;
    staff["dongcheng"]
        .call(
            Method::DELETE,
            &format!("/api/v1/review/dossiers/{id}/claim"),
            None,
        )
        .await;
    let entries = server.scalar("SELECT COUNT(*) FROM audit", "").unwrap();
    assert!(entries >= 6, "logins, claim, release: {entries}");
    // `audit verify` run on the live database (either backend) while the test damages it, each
    // damage undone from a kept copy of the table before the next.
    let verify = || dossier_tests::run_command(server.data.path(), &["audit", "verify"], &[]);
    let run = |sql: &str| {
        let sql = sql.to_string();
        server
            .state
            .db
            .blocking_write(move |tx| tx.execute_batch(&sql))
            .unwrap()
    };
    run("CREATE TABLE audit_kept AS SELECT * FROM audit");
    let (ok, said) = verify();
    assert!(ok, "intact: {said}");
    assert!(said.contains(&format!("{entries} entries")), "{said}");
    let tampered = |sql: &str| {
        run(sql);
        let answer = verify();
        run("DELETE FROM audit; INSERT INTO audit SELECT * FROM audit_kept");
        answer
    };
    for (what, sql) in [
        (
            "an edited detail",
            "UPDATE audit SET detail = 'nothing happened' WHERE seq = 2",
        ),
        (
            "an edited actor",
            "UPDATE audit SET actor = 'someone else' WHERE seq = 1",
        ),
        ("a removed middle entry", "DELETE FROM audit WHERE seq = 2"),
        (
            "the removed newest entry",
            &format!("DELETE FROM audit WHERE seq = {entries}"),
        ),
        ("the removed first entry", "DELETE FROM audit WHERE seq = 1"),
    ] {
        let (ok, said) = tampered(sql);
        assert!(!ok, "{what} went unnoticed: {said}");
        assert!(said.contains("audit chain broken"), "{what}: {said}");
    }
}

/// The queue's search (a username's start, part of a name, an ID number or its last digits) and
/// the exam-site filter for district staff; neither widens a site reviewer's scope.
#[tokio::test]
async fn the_queue_finds_a_candidate_and_filters_by_exam_site() {
    let server = TestServer::start().await;
    for c in &CANDIDATES[..2] {
        submitted(&server, c.username).await;
    }
    let staff = staff(&server).await;
    let district = &staff["district"];
    // District reviewers see the site stage's queue too; names of what it holds.
    let names = |page: &Value| -> Vec<String> {
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    let search = |q: &str| format!("/api/v1/review/queue?stage=site&q={}", urlencode(q));
    for (q, expected) in [
        ("张", vec!["张明"]),
        ("2026110100002", vec!["李华"]),
        ("110101199003091234", vec!["张明"]),
        ("1234", vec!["张明"]),
        ("20261101", vec!["张明", "李华"]),
        ("%", vec![]),
        ("12", vec![]),
    ] {
        let (status, page) = district.get(&search(q)).await;
        assert_eq!(status, 200, "{page}");
        let mut got = names(&page);
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "search {q:?}");
        assert_eq!(page["total"], want.len(), "search {q:?}");
    }
    // A reviewer sees ID numbers masked (all but the last four): a longer suffix finds nobody,
    // or it would reveal the hidden digits one by one; an administrator sees, and finds, them.
    let (_, page) = district.get(&search("91234")).await;
    assert_eq!(page["total"], 0, "a suffix longer than the mask shows");
    let (_, page) = staff["admin"].get(&search("91234")).await;
    assert_eq!(names(&page), ["张明"]);
    // The sites to filter by: the roster's, for district staff; a site reviewer's own only.
    let (_, sites) = district.get("/api/v1/review/exam-sites").await;
    assert_eq!(sites["sites"], json!(["东城区考点", "西城区考点"]));
    let (_, sites) = staff["xicheng"].get("/api/v1/review/exam-sites").await;
    assert_eq!(sites["sites"], json!(["西城区考点"]));
    let (_, page) = district
        .get(&format!(
            "/api/v1/review/queue?stage=site&exam_site={}",
            urlencode("东城区考点")
        ))
        .await;
    let mut got = names(&page);
    got.sort();
    assert_eq!(got, ["张明"]);
    // A site reviewer searching for another site's candidate finds nothing.
    let (_, page) = staff["xicheng"].get(&search("张明")).await;
    assert_eq!(page["total"], 0);
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The diploma's image as the candidate sees it (the one a reviewer returned).
async fn returned_diploma(candidate: &Client) -> Uuid {
    let view = candidate.dossier().await.unwrap();
    view.materials
        .iter()
        .find(|m| m.category.code == "diploma")
        .unwrap()
        .images[0]
        .id
}

fn material<'a>(dossier: &'a Value, code: &str) -> &'a Value {
    dossier["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["category"]["code"] == code)
        .unwrap()
}

/// After a return and a resubmission, the reviewer decides only what the candidate changed (what
/// they approved before keeps its verdict), and sees as earlier versions only what a reviewer saw
/// (not a draft the candidate replaced before ever submitting).
#[tokio::test]
async fn a_resubmission_is_decided_on_what_changed_and_shows_only_versions_a_reviewer_saw() {
    let server = TestServer::start().await;
    let candidate = server.activated(ZHANG).await;
    let draft = candidate.upload(&upload("diploma", 7)).await.unwrap();
    candidate.delete_image(draft.id).await.unwrap();
    fill_required(&candidate).await;
    candidate.submit().await.unwrap();
    let id = server.candidate_id(ZHANG);
    let staff = staff(&server).await;
    let site = &staff["dongcheng"];
    let path = format!("/api/v1/review/dossiers/{id}");
    site.post(&format!("{path}/claim"), json!({})).await;
    let (_, dossier) = site.get(&path).await;
    assert_eq!(
        material(&dossier, "diploma")["previous"],
        json!([]),
        "a draft deleted before submitting is no earlier version"
    );
    let decisions = verdicts(&dossier, Some(("diploma", "请上传清晰的毕业证书。")));
    let (status, body) = site
        .post(
            &format!("{path}/decision"),
            json!({"version": 1, "materials": decisions, "outcome": "return"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let old = returned_diploma(&candidate).await;
    candidate
        .upload(&UploadRequest {
            replaces: Some(old),
            ..upload("diploma", 999)
        })
        .await
        .unwrap();
    candidate.submit().await.unwrap();

    site.post(&format!("{path}/claim"), json!({})).await;
    let (_, dossier) = site.get(&path).await;
    for m in dossier["materials"].as_array().unwrap() {
        if m["images"].as_array().unwrap().is_empty() {
            continue;
        }
        let changed = m["category"]["code"] == "diploma";
        assert_eq!(
            m["approved_earlier"], !changed,
            "{}: approved before and unchanged, or replaced",
            m["category"]["code"]
        );
    }
    let previous = material(&dossier, "diploma")["previous"]
        .as_array()
        .unwrap();
    assert_eq!(previous.len(), 1, "only the version the reviewer returned");
    assert_eq!(previous[0]["id"], old.to_string());
    // Deciding only what changed passes the dossier on.
    let (status, body) = site
        .post(
            &format!("{path}/decision"),
            json!({"version": 2, "materials": [{"category": "diploma", "verdict": "approve"}], "outcome": "pass"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stage"], "district");
    // The district decides everything afresh: nothing was approved at its stage before.
    let (_, dossier) = staff["district"].get(&path).await;
    assert!(
        dossier["materials"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["approved_earlier"] == false)
    );
}
