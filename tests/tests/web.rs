//! What the web pages need from the server, over real HTTP: the pages themselves with their
//! security headers, the prepare endpoint (core's photo pipeline on the server), the console's
//! cookie session with its CSRF token, and the administrators' catalogue. The pages in a browser
//! are tested by `tests/web/journey.test.mjs`.
use dossier_tests::{CANDIDATES, PASSWORD, StaffSession, TestServer, http};
use reqwest::header;
use serde_json::{Value, json};

const ZHANG: &str = CANDIDATES[0].username;

fn photo(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../testdata/photos/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("test photo")
}

async fn candidate_token(server: &TestServer) -> String {
    server.activated(ZHANG).await;
    server.raw_login(ZHANG, PASSWORD).await["access_token"]
        .as_str()
        .expect("signed in")
        .to_string()
}

/// The materials page as the candidate's page reads it.
async fn dossier_of(server: &TestServer, token: &str) -> Value {
    http()
        .get(format!("{}/api/v1/dossier", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_are_served_with_a_strict_content_security_policy() {
    let server = TestServer::start().await;
    for path in ["/", "/enter?ticket=x", "/staff"] {
        let r = http()
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let html = r.text().await.unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{path} names another origin"
        );
    }
    // Assets revalidate by ETag: an unchanged file costs a 304.
    let url = format!("{}/assets/candidate.js", server.base);
    let first = http().get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
    let etag = first.headers()[header::ETAG].clone();
    let again = http()
        .get(&url)
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn prepare_turns_a_sideways_camera_photo_upright_under_200_kb_and_stores_nothing() {
    let server = TestServer::start().await;
    let token = candidate_token(&server).await;
    let url = format!("{}/api/v1/photos/prepare?document=a4", server.base);
    // Canon, 2048x1536 stored sideways (EXIF Orientation 6), with GPS.
    let original = photo("real/canon_hdr_NO.jpg");
    let r = http()
        .post(&url)
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(original)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(r.headers()["x-source-orientation"], "6");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.len() <= 200 * 1024, "{} bytes", bytes.len());
    let image = image::load_from_memory(&bytes).expect("a JPEG");
    assert!(
        image.height() > image.width(),
        "upright: {}x{}",
        image.width(),
        image.height()
    );
    assert!(
        !bytes.windows(4).any(|w| w == b"Exif"),
        "no EXIF (and so no GPS) left"
    );
    // Nothing was stored.
    let dossier = dossier_of(&server, &token).await;
    let images: usize = dossier["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["images"].as_array().unwrap().len())
        .sum();
    assert_eq!(images, 0);

    // An iPhone's HEIF: 415 with the pipeline's reason; no session: 401.
    let heic = http()
        .post(&url)
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(photo("heic/samplefilehub.heif"))
        .send()
        .await
        .unwrap();
    assert_eq!(heic.status(), 415);
    let body: Value = heic.json().await.unwrap();
    assert_eq!(body["code"], "invalid_photo");
    assert_eq!(body["detail"], "unsupported_format");
    let anonymous = http()
        .post(&url)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(photo("gps/DSCN0010.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// The page at an angle (`tests/fixtures/page-at-angle.jpg`) and its corners, in fractions.
fn page_at_angle() -> (Vec<u8>, Vec<(f64, f64)>) {
    let dir = format!("{}/fixtures", env!("CARGO_MANIFEST_DIR"));
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/page-at-angle.json")).unwrap(),
    )
    .unwrap();
    let (w, h) = (
        truth["width"].as_f64().unwrap(),
        truth["height"].as_f64().unwrap(),
    );
    let corners = truth["corners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_f64().unwrap() / w, c[1].as_f64().unwrap() / h))
        .collect();
    (
        std::fs::read(format!("{dir}/page-at-angle.jpg")).unwrap(),
        corners,
    )
}

#[tokio::test]
async fn prepare_finds_the_page_and_lets_the_candidate_move_its_corners_or_keep_the_whole_photo() {
    let server = TestServer::start().await;
    let token = candidate_token(&server).await;
    let (photo, truth) = page_at_angle();
    let prepare = |query: &str| {
        http()
            .post(format!(
                "{}/api/v1/photos/prepare?document=a4{query}",
                server.base
            ))
            .bearer_auth(&token)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(photo.clone())
            .send()
    };
    let header_of = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let corners_of = |text: &str| -> Vec<(f64, f64)> {
        let n: Vec<f64> = text.split(',').map(|v| v.parse().unwrap()).collect();
        n.chunks(2).map(|p| (p[0], p[1])).collect()
    };
    // Found: the outline within 2% of the page's diagonal (in any starting corner), flattened to
    // a landscape diploma.
    let found = prepare("").await.unwrap();
    assert_eq!(found.status(), 200);
    assert_eq!(header_of(&found, "x-photo-page").as_deref(), Some("found"));
    let corners = corners_of(&header_of(&found, "x-photo-corners").unwrap());
    let (w, h) = (1600.0, 1200.0);
    let diagonal = ((truth[0].0 - truth[2].0) * w).hypot((truth[0].1 - truth[2].1) * h);
    let error = (0..4)
        .map(|shift| {
            (0..4)
                .map(|k| {
                    let (a, b) = (corners[(k + shift) % 4], truth[k]);
                    ((a.0 - b.0) * w).hypot((a.1 - b.1) * h)
                })
                .fold(0.0, f64::max)
        })
        .fold(f64::MAX, f64::min);
    assert!(error < 0.02 * diagonal, "corner error {error:.1} px");
    assert_eq!(header_of(&found, "x-photo-turned").as_deref(), Some("0"));
    let flat = image::load_from_memory(&found.bytes().await.unwrap()).unwrap();
    assert!(
        flat.width() > flat.height(),
        "{}x{}",
        flat.width(),
        flat.height()
    );

    // Corners moved by the candidate: used as given.
    let moved: Vec<String> = truth
        .iter()
        .map(|(x, y)| format!("{:.4},{:.4}", x - 0.01, y))
        .collect();
    let given = prepare(&format!("&corners={}", moved.join(",")))
        .await
        .unwrap();
    assert_eq!(given.status(), 200);
    assert_eq!(header_of(&given, "x-photo-page").as_deref(), Some("given"));

    // The whole photo: its own 4:3 shape, and the outline still offered.
    let whole = prepare("&whole_frame=true").await.unwrap();
    assert_eq!(
        header_of(&whole, "x-photo-page").as_deref(),
        Some("whole_frame")
    );
    assert!(header_of(&whole, "x-photo-corners").is_some());
    let image = image::load_from_memory(&whole.bytes().await.unwrap()).unwrap();
    assert_eq!(image.width() * 3, image.height() * 4);
    // A photo of a person is kept whole too.
    let person = prepare("&subject=person").await.unwrap();
    assert_eq!(
        header_of(&person, "x-photo-page").as_deref(),
        Some("whole_frame")
    );

    // Corners that outline no page: a typed refusal the page words.
    let crossed = prepare("&corners=0.1,0.1,0.9,0.9,0.9,0.1,0.1,0.9")
        .await
        .unwrap();
    assert_eq!(crossed.status(), 422);
    let body: Value = crossed.json().await.unwrap();
    assert_eq!(body["code"], "invalid_photo");
    assert_eq!(body["detail"], "invalid_corners");
    let short = prepare("&corners=0.1,0.1").await.unwrap();
    assert_eq!(short.status(), 422);
}

#[tokio::test]
async fn the_consoles_cookie_session_needs_its_csrf_token_for_every_change() {
    let server = TestServer::start().await;
    let passwords = server.staff_passwords();
    let login = http()
        .post(format!("{}/api/v1/staff/login", server.base))
        .json(&json!({"username": "admin", "password": passwords["admin"], "mode": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let set_cookie = login.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(set_cookie.starts_with("dossier_staff="));
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let body: Value = login.json().await.unwrap();
    assert!(
        body.get("access_token").is_none(),
        "no bearer token in web mode"
    );
    let csrf = body["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    let send = |method: reqwest::Method, path: &str, token: Option<&str>| {
        let mut r = http()
            .request(method, format!("{}{path}", server.base))
            .header(header::COOKIE, &cookie);
        if let Some(t) = token {
            r = r.header("X-CSRF-Token", t);
        }
        r
    };
    // Reads need only the cookie.
    let me = send(reqwest::Method::GET, "/api/v1/staff/me", None)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // A change without the token, or with a wrong one, is refused and changes nothing.
    let change = json!({"name": "身份证明（新）", "description": "正反面", "requirement": "required", "min_images": 2, "max_images": 2});
    for token in [None, Some("forged")] {
        let r = send(
            reqwest::Method::PUT,
            "/api/v1/admin/catalogue/id_card",
            token,
        )
        .json(&change)
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 403, "token {token:?}");
    }
    let catalogue: Value = send(reqwest::Method::GET, "/api/v1/admin/catalogue", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(catalogue["categories"][0]["name"], "身份证明");
    let r = send(
        reqwest::Method::PUT,
        "/api/v1/admin/catalogue/id_card",
        Some(&csrf),
    )
    .json(&change)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);

    // Signing out clears the cookie and ends the session.
    let out = send(reqwest::Method::POST, "/api/v1/staff/logout", Some(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = send(reqwest::Method::GET, "/api/v1/staff/me", None)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn administrators_change_the_catalogue_and_candidates_see_it() {
    let server = TestServer::start().await;
    let passwords = server.staff_passwords();
    let admin = StaffSession::login(&server.base, "admin", &passwords["admin"]).await;
    let site = StaffSession::login(&server.base, "dongcheng", &passwords["dongcheng"]).await;
    let degree = json!({
        "name": "学位证书（硕士及以上）",
        "description": "学位证书原件照片。",
        "requirement": "required",
        "min_images": 1,
        "max_images": 3
    });
    let put = reqwest::Method::PUT;
    let (status, _) = site
        .call(
            put.clone(),
            "/api/v1/admin/catalogue/degree",
            Some(degree.clone()),
        )
        .await;
    assert_eq!(status, 403, "a reviewer cannot change the catalogue");
    let (status, body) = admin
        .call(
            put.clone(),
            "/api/v1/admin/catalogue/degree",
            Some(degree.clone()),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    // Refusals that keep the catalogue coherent.
    let mut conditional = degree.clone();
    conditional["requirement"] = json!("conditional");
    let (status, body) = admin
        .call(
            put.clone(),
            "/api/v1/admin/catalogue/degree",
            Some(conditional),
        )
        .await;
    assert_eq!(status, 422, "no roster rule for it: {body}");
    let mut id_card = degree.clone();
    id_card["max_images"] = json!(3);
    let (status, _) = admin
        .call(
            put.clone(),
            "/api/v1/admin/catalogue/id_card",
            Some(id_card),
        )
        .await;
    assert_eq!(status, 422, "the ID card's two slots are named");
    let (status, _) = admin
        .call(
            put.clone(),
            "/api/v1/admin/catalogue/nope",
            Some(degree.clone()),
        )
        .await;
    assert_eq!(status, 404);

    // A new example image; a text file is not one.
    // The demo's degree example is a drawn page; an ID-card drawing is a different image.
    let png = dossier_server::demo::example_image(dossier_core::api::DocumentKind::IdCard);
    let example_url = format!("{}/api/v1/admin/catalogue/degree/example", server.base);
    let r = http()
        .put(&example_url)
        .bearer_auth(&admin.token)
        .header(header::CONTENT_TYPE, "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = http()
        .put(&example_url)
        .bearer_auth(&admin.token)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body("not an image")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    // The candidate's page shows the change, and the example is the new one.
    let token = candidate_token(&server).await;
    let dossier = dossier_of(&server, &token).await;
    let material = dossier["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["category"]["code"] == "degree")
        .unwrap()
        .clone();
    assert_eq!(material["category"]["name"], "学位证书（硕士及以上）");
    assert_eq!(material["required"], true);
    assert_eq!(material["category"]["max_images"], 3);
    assert!(
        dossier["missing"]
            .as_array()
            .unwrap()
            .contains(&json!("degree"))
    );
    let example = http()
        .get(format!(
            "{}{}",
            server.base,
            material["category"]["example_url"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(example.as_ref(), png.as_slice());

    // Audited: the words and the example.
    assert_eq!(
        server.scalar(
            "SELECT COUNT(*) FROM audit WHERE action = ?1",
            "category_changed"
        ),
        Some(2)
    );
}
