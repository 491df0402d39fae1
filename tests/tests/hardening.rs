//! The attacks of the hardening review, each now refused with its code: unbounded bodies and
//! fields, lock-outs by others, slow or cut uploads taken for too large ones, refusals without a
//! code, costly PNGs, authenticator codes used twice, unchecked staff names, data hidden after an
//! image's end, the OpenAPI document's disagreements, and the smaller ones.
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use dossier_tests::{CANDIDATES, PASSWORD, StaffSession, TestServer, http, photo};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const ZHANG: &str = CANDIDATES[0].username; // 东城区考点

async fn body_of(response: reqwest::Response) -> (u16, Value, reqwest::header::HeaderMap) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

/// A client whose requests leave from another loopback address (another person's machine).
fn from_address(ip: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login_from(
    client: &reqwest::Client,
    server: &TestServer,
    path: &str,
    username: &str,
    password: &str,
) -> (u16, Value) {
    let (status, body, _) = body_of(
        client
            .post(format!("{}{path}", server.base))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    (status, body)
}

fn stored_rows(server: &TestServer) -> (i64, i64) {
    (
        server.scalar("SELECT COUNT(*) FROM audit", "").unwrap(),
        server
            .scalar("SELECT COUNT(*) FROM login_throttle", "")
            .unwrap(),
    )
}

#[tokio::test]
async fn oversized_bodies_and_fields_are_refused_before_anything_is_stored() {
    let server = TestServer::start().await;
    let before = stored_rows(&server);
    let huge = "x".repeat(10 << 20);
    // A 10 MB username: 413 by the declared length, unread.
    let (status, body) = login_from(&http(), &server, "/api/v1/auth/login", &huge, "x").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    // The same sent chunked (no length declared): refused while reading.
    let chunks =
        futures::stream::iter((0..160).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 << 10])));
    let (status, body, _) = body_of(
        http()
            .post(format!("{}/api/v1/auth/login", server.base))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    // A body within the limit whose username is over its documented length: 400.
    for path in ["/api/v1/auth/login", "/api/v1/staff/login"] {
        let (status, body) = login_from(&http(), &server, path, &"x".repeat(1000), "x").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("bad_request")),
            "{path}: {body}"
        );
    }
    assert_eq!(
        stored_rows(&server),
        before,
        "nothing audited, no throttle row"
    );
    // A failed sign-in with a username at the limit stores it once, bounded.
    let name = "y".repeat(64);
    let (status, _) = login_from(&http(), &server, "/api/v1/auth/login", &name, "wrong").await;
    assert_eq!(status, 401);
    let longest = server
        .scalar("SELECT MAX(LENGTH(actor)) FROM audit", "")
        .unwrap();
    assert!(longest <= 80, "audit actor of {longest} characters");
}

#[tokio::test]
async fn failures_from_elsewhere_slow_the_attacker_not_the_owner() {
    let server = TestServer::start().await;
    server.activated(ZHANG).await;
    let attacker = from_address("127.0.0.2");
    let mut throttled = false;
    for _ in 0..8 {
        let (status, body) =
            login_from(&attacker, &server, "/api/v1/auth/login", ZHANG, "Wrong1234").await;
        assert!(status == 401 || status == 429, "{status} {body}");
        throttled |= status == 429 && body["code"] == "throttled";
    }
    assert!(throttled, "the attacker is slowed down");
    // Wrong recovery answers from there count for that address too, not for the owner.
    let owner = from_address("127.0.0.1");
    let (status, body) = login_from(&owner, &server, "/api/v1/auth/login", ZHANG, PASSWORD).await;
    assert_eq!(
        status, 200,
        "the owner signs in from their own address: {body}"
    );

    // Staff the same, and the refusals show in the metrics for an alert.
    let passwords = server.staff_passwords();
    for _ in 0..8 {
        login_from(
            &attacker,
            &server,
            "/api/v1/staff/login",
            "dongcheng",
            "wrong",
        )
        .await;
    }
    let (status, _) = login_from(
        &owner,
        &server,
        "/api/v1/staff/login",
        "dongcheng",
        &passwords["dongcheng"],
    )
    .await;
    assert_eq!(status, 200, "the reviewer is not locked out");
    let metrics = http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("dossier_sign_in_refusals_total")
                && l.contains("audience=\"staff\"")
                && l.contains("reason=\"throttled\"")
        })
        .expect("staff throttling is counted");
    let n: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1.0, "{line}");
}

#[tokio::test]
async fn one_address_guessing_across_accounts_is_slowed() {
    let server = TestServer::start_with(|s| s.auth.free_failures_per_address = 5).await;
    server.activated(ZHANG).await;
    let guesser = from_address("127.0.0.3");
    // One wrong password for each of many accounts: no account-and-address pair reaches its
    // delay, but past five failures the address does (each further one doubles it).
    let mut answers = Vec::new();
    for i in 0..10 {
        let (status, _) = login_from(
            &guesser,
            &server,
            "/api/v1/auth/login",
            &format!("20261102{i:05}"),
            "Wrong1234",
        )
        .await;
        answers.push(status);
        if status == 429 {
            break;
        }
    }
    assert_eq!(
        &answers[..5],
        &[401; 5],
        "the first five are plain failures"
    );
    assert_eq!(
        answers.last(),
        Some(&429),
        "then the address waits: {answers:?}"
    );
    let (status, body) = login_from(&guesser, &server, "/api/v1/auth/login", ZHANG, PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("throttled")));
    let (status, _) = login_from(
        &from_address("127.0.0.1"),
        &server,
        "/api/v1/auth/login",
        ZHANG,
        PASSWORD,
    )
    .await;
    assert_eq!(status, 200, "other addresses are not slowed");
}

#[tokio::test]
async fn an_upload_cut_short_is_retryable_not_too_large() {
    let server = TestServer::start().await;
    let client = server.activated(ZHANG).await;
    let token = server.raw_login(ZHANG, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let jpeg = photo(1);
    let before = client.dossier().await.unwrap();
    let port = server.port;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "POST /api/v1/dossier/materials/diploma/images HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {token}\r\nIdempotency-Key: {}\r\n\
             Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            Uuid::new_v4(),
            jpeg.len()
        )
        .unwrap();
        stream.write_all(&jpeg[..jpeg.len() / 2]).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"body_incomplete\""), "{answer}");
    assert!(answer.contains("\"detail\":\"cut_short\""), "{answer}");
    let after = client.dossier().await.unwrap();
    assert_eq!(before.materials, after.materials, "nothing stored");
}

#[tokio::test]
async fn an_upload_too_slow_is_told_apart_and_retryable() {
    // The guard closes a connection that sends fewer than 1,000 bytes a window twice running:
    // here windows of 300 ms, so a photo trickling at ~100 B/s is closed in about a second.
    let server = TestServer::start_with(|s| {
        s.connections.window_ms = 300;
        s.connections.min_bytes = 1000;
    })
    .await;
    server.activated(ZHANG).await;
    let token = server.raw_login(ZHANG, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let jpeg = photo(2);
    let port = server.port;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "POST /api/v1/dossier/materials/diploma/images HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {token}\r\nIdempotency-Key: {}\r\n\
             Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            Uuid::new_v4(),
            jpeg.len()
        )
        .unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_millis(10)))
            .unwrap();
        let mut answer = Vec::new();
        for chunk in jpeg.chunks(10).take(600) {
            if stream.write_all(chunk).is_err() {
                break;
            }
            let mut buf = [0u8; 4096];
            if let Ok(n) = stream.read(&mut buf)
                && n > 0
            {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(90));
        }
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        answer.extend(rest);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    // Never the final 413 the phone's queue would give up on: 408, saying why.
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"detail\":\"too_slow\""), "{answer}");
    let metrics = http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("dossier_connections_dropped_total{outcome=\"too_slow\"} 1"),
        "the guard's close is counted apart"
    );
}

#[tokio::test]
async fn every_refusal_is_json_with_a_code() {
    let server = TestServer::start().await;
    server.activated(ZHANG).await;
    let base = &server.base;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        // No credentials at all.
        (
            http().get(format!("{base}/api/v1/dossier")),
            401,
            "unauthorized",
        ),
        (
            http().get(format!("{base}/api/v1/review/queue?stage=site")),
            401,
            "unauthorized",
        ),
        (
            http()
                .get(format!("{base}/api/v1/dossier"))
                .bearer_auth("not-a-token"),
            401,
            "unauthorized",
        ),
        // A value that does not parse.
        (
            http()
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"username": "a", "password": "b", "mode": "bogus"})),
            400,
            "bad_request",
        ),
        // Not JSON where JSON is taken.
        (
            http()
                .post(format!("{base}/api/v1/auth/login"))
                .header("content-type", "text/plain")
                .body("hello"),
            415,
            "unsupported_media_type",
        ),
        (
            http().get(format!("{base}/api/v1/nothing-here")),
            404,
            "not_found",
        ),
        (
            http().request(Method::TRACE, format!("{base}/api/v1/dossier")),
            405,
            "method_not_allowed",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body, headers) = body_of(request.send().await.unwrap()).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        if status == 405 {
            assert_eq!(headers["allow"], "GET", "405 says what is allowed");
        }
    }
    // A missing query parameter of the staff API, with a signed-in reviewer.
    let passwords = server.staff_passwords();
    let site = StaffSession::login(base, "dongcheng", &passwords["dongcheng"]).await;
    let (status, body) = site.get("/api/v1/review/queue").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );

    // An expired session is told apart from an unknown one.
    let token = server.raw_login(ZHANG, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = dossier_server::auth::token_hash(&token);
    server
        .state
        .db
        .blocking_write(move |tx| {
            tx.execute(
                "UPDATE sessions SET expires_at = 0 WHERE token_hash = ?1",
                [hash],
            )
        })
        .unwrap();
    let (status, body, _) = body_of(
        http()
            .get(format!("{base}/api/v1/dossier"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("session_expired"))
    );
}

/// A PNG of `width` x `height` 16-bit RGBA pixels, a smooth gradient (it compresses to little),
/// written row by row.
fn big_png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Sixteen);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let mut row = vec![0u8; width as usize * 8];
        for y in 0..height {
            for (x, px) in row.chunks_exact_mut(8).enumerate() {
                let v = ((x as u32 + y) / 64 % 256) as u8;
                px.copy_from_slice(&[v, 0, v, 0, 200, 0, 255, 255]);
            }
            stream.write_all(&row).unwrap();
        }
        stream.finish().unwrap();
    }
    out
}

/// A PNG whose header claims `width` x `height` (with a correct CRC) and holds one tiny image.
fn claimed_png(width: u32, height: u32) -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbImage::new(1, 1)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_pngs_cost_little_memory_and_absurd_ones_say_too_many_pixels() {
    let dir = tempfile::tempdir().unwrap();
    dossier_tests::seed_activated(dir.path(), 1);
    let server = dossier_tests::ServerProcess::start(dir.path());
    let png = big_png(6300, 6300);
    assert!(png.len() < 4 << 20, "{} bytes", png.len());
    let login: Value = http()
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": dossier_tests::seeded_username(0), "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let prepares = (0..8).map(|_| {
        http()
            .post(format!("{}/api/v1/photos/prepare", server.base))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(png.clone())
            .send()
    });
    for answer in futures::future::join_all(prepares).await {
        let answer = answer.unwrap();
        let status = answer.status();
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
        if status == StatusCode::OK {
            assert!(answer.bytes().await.unwrap().len() <= 200 * 1024);
        }
    }
    let peak = peak_rss_mib(server.pid());
    // Eight 317 MB decodes once took 846 MB; bodies and row-by-row decodes are a fraction.
    assert!(peak < 250, "peak RSS {peak} MiB");

    // 30000 x 30000: too_many_pixels, as prepare says, not "corrupt".
    let absurd = claimed_png(30_000, 30_000);
    for path in [
        "/api/v1/photos/prepare",
        "/api/v1/dossier/materials/diploma/images",
    ] {
        let (status, body, _) = body_of(
            http()
                .post(format!("{}{path}", server.base))
                .bearer_auth(&token)
                .header("content-type", "image/png")
                .header("idempotency-key", Uuid::new_v4().to_string())
                .body(absurd.clone())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (422, Some("too_many_pixels")),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn staff_names_are_checked() {
    let server = TestServer::start().await;
    let passwords = server.staff_passwords();
    let admin = StaffSession::login(&server.base, "admin", &passwords["admin"]).await;
    let cases = [
        (
            json!({"username": "ok.name", "name": "王\u{202E}审核", "role": "district_reviewer"}),
            "name",
        ),
        (
            json!({"username": "ok.name", "name": "<b>王</b>", "role": "district_reviewer"}),
            "name",
        ),
        (
            json!({"username": "bad\u{0}name", "name": "王审核", "role": "district_reviewer"}),
            "username",
        ),
        (
            json!({"username": "王审核", "name": "王审核", "role": "district_reviewer"}),
            "username",
        ),
        (
            json!({"username": "site.x", "name": "王审核", "role": "site_reviewer", "exam_site": "东城\u{200B}区考点"}),
            "exam_site",
        ),
    ];
    for (new, field) in cases {
        let (status, body) = admin.post("/api/v1/admin/staff", new.clone()).await;
        assert_eq!(
            (status, body["code"].as_str(), body["detail"].as_str()),
            (422, Some("invalid_field"), Some(field)),
            "{new}: {body}"
        );
    }
    let (status, body) = admin
        .post(
            "/api/v1/admin/staff",
            json!({"username": "x".repeat(1 << 20), "name": "王审核", "role": "district_reviewer"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (status, body) = admin
        .post(
            "/api/v1/admin/staff",
            json!({"username": "wang.li", "name": "王 审核", "role": "district_reviewer"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// A prepared JPEG with something after its end.
fn with_trailer(trailer: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let jpeg = photo(7);
    let mut sent = jpeg.clone();
    sent.extend_from_slice(trailer);
    (jpeg, sent)
}

#[tokio::test]
async fn bytes_after_an_image_end_are_not_stored() {
    let server = TestServer::start().await;
    server.activated(ZHANG).await;
    let token = server.raw_login(ZHANG, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (jpeg, sent) = with_trailer(b"PK\x03\x04 a zip file<html><script>alert(1)</script></html>");
    let (status, image, _) = body_of(
        http()
            .post(format!(
                "{}/api/v1/dossier/materials/diploma/images",
                server.base
            ))
            .bearer_auth(&token)
            .header("content-type", "image/jpeg")
            .header("idempotency-key", Uuid::new_v4().to_string())
            .body(sent)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{image}");
    let stored = http()
        .get(format!("{}{}", server.base, image["url"].as_str().unwrap()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        stored.as_ref(),
        jpeg.as_slice(),
        "the image, and nothing after it"
    );

    // The public example image likewise.
    let passwords = server.staff_passwords();
    let admin = StaffSession::login(&server.base, "admin", &passwords["admin"]).await;
    let (_, sent) = with_trailer(b"<html>not an image</html>");
    let status = http()
        .put(format!(
            "{}/api/v1/admin/catalogue/diploma/example",
            server.base
        ))
        .bearer_auth(&admin.token)
        .header("content-type", "image/jpeg")
        .body(sent)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let example = http()
        .get(format!(
            "{}/api/v1/catalogue/{}/diploma/example",
            server.base,
            dossier_server::demo::DISTRICT
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(example.ends_with(&[0xFF, 0xD9]), "served without the page");
}

#[tokio::test]
async fn idempotency_keys_are_exact() {
    let server = TestServer::start().await;
    server.activated(ZHANG).await;
    let token = server.raw_login(ZHANG, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let jpeg = photo(3);
    let upload = |category: &str, keys: &[String]| {
        let mut request = http()
            .post(format!(
                "{}/api/v1/dossier/materials/{category}/images",
                server.base
            ))
            .bearer_auth(&token)
            .header("content-type", "image/jpeg")
            .body(jpeg.clone());
        for key in keys {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };
    let key = Uuid::new_v4().to_string();
    let (status, body, _) = body_of(
        upload("diploma", &[key.clone(), Uuid::new_v4().to_string()])
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("idempotency_key_required")),
        "two keys"
    );
    let (status, body, _) = body_of(upload("diploma", &["not-a-uuid".into()]).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("idempotency_key_required")),
        "{body}"
    );
    let (status, _, _) =
        body_of(upload("diploma", std::slice::from_ref(&key)).await.unwrap()).await;
    assert_eq!(status, 201);
    let (status, _, _) =
        body_of(upload("diploma", std::slice::from_ref(&key)).await.unwrap()).await;
    assert_eq!(status, 201, "a replay answers the same");
    let (status, body, _) = body_of(upload("degree", &[key]).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("idempotency_conflict")),
        "never the diploma presented as stored under the degree: {body}"
    );

    // The document says what the server does.
    let spec: Value = http()
        .get(format!("{}/api/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let op = &spec["paths"]["/api/v1/dossier/materials/{category}/images"]["post"];
    let header = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(header["schema"]["format"], "uuid");
    let csv = &spec["paths"]["/api/v1/admin/results.csv"]["get"]["responses"]["200"]["content"];
    assert!(csv.get("text/csv; charset=utf-8").is_some(), "{csv}");
    assert!(op["responses"].get("401").is_some());
}

#[tokio::test]
async fn the_smaller_ones() {
    let server = TestServer::start().await;
    let passwords = server.staff_passwords();
    let site = StaffSession::login(&server.base, "dongcheng", &passwords["dongcheng"]).await;
    // A site reviewer asking for another site's queue sees none, not their own.
    let (status, page) = site
        .get("/api/v1/review/queue?stage=site&exam_site=%E8%A5%BF%E5%9F%8E%E5%8C%BA%E8%80%83%E7%82%B9")
        .await;
    assert_eq!((status, page["total"].as_u64()), (200, Some(0)), "{page}");
    // Releasing a claim one does not hold is a conflict, not 204.
    let client = server.activated(ZHANG).await;
    dossier_tests::fill_required(&client).await;
    client.submit().await.unwrap();
    let id = server.candidate_id(ZHANG);
    let (status, body) = site
        .call(
            Method::DELETE,
            &format!("/api/v1/review/dossiers/{id}/claim"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("claim_required")),
        "{body}"
    );
    let (status, _) = site
        .post(&format!("/api/v1/review/dossiers/{id}/claim"), json!({}))
        .await;
    assert_eq!(status, 200);
    let district = StaffSession::login(&server.base, "district", &passwords["district"]).await;
    let (status, body) = district
        .call(
            Method::DELETE,
            &format!("/api/v1/review/dossiers/{id}/claim"),
            None,
        )
        .await;
    assert!(matches!(status, 404 | 409), "{status} {body}");
    let (status, _) = site
        .call(
            Method::DELETE,
            &format!("/api/v1/review/dossiers/{id}/claim"),
            None,
        )
        .await;
    assert_eq!(status, 204, "the holder releases");
}

/// Run `sql` on the server's database, as a broken or half-migrated database would look to it.
fn alter(server: &TestServer, sql: &'static str) {
    server
        .state
        .db
        .blocking_write(|tx| tx.execute_batch(sql))
        .unwrap();
}

#[tokio::test]
async fn database_trouble_is_never_taken_for_a_wrong_password() {
    let server = TestServer::start().await;
    server.activated(ZHANG).await;
    let passwords = server.staff_passwords();
    // The accounts' tables out of reach: the server cannot look anyone up.
    alter(
        &server,
        "ALTER TABLE staff RENAME TO staff_away; ALTER TABLE candidates RENAME TO candidates_away;",
    );
    let (status, body) = login_from(&http(), &server, "/api/v1/auth/login", ZHANG, PASSWORD).await;
    assert!(status >= 500, "a candidate's sign-in: {status} {body}");
    assert_ne!(body["code"], "unauthorized", "{body}");
    let refused = StaffSession::try_login(&server.base, "admin", &passwords["admin"], None).await;
    let (status, body) = refused.err().expect("no staff sign-in without the table");
    assert!(status >= 500, "a reviewer's sign-in: {status} {body}");
    assert_ne!(body["code"], "unauthorized", "{body}");
    // Back in order, the same passwords work at once: nothing was counted as a failed attempt.
    alter(
        &server,
        "ALTER TABLE staff_away RENAME TO staff; ALTER TABLE candidates_away RENAME TO candidates;",
    );
    let (status, body) = login_from(&http(), &server, "/api/v1/auth/login", ZHANG, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    // Whereas a wrong password says so (the page words `wrong_password`, not "signed out").
    let (status, body) =
        login_from(&http(), &server, "/api/v1/auth/login", ZHANG, "Wrong0000").await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (401, Some("wrong_password"))
    );
    StaffSession::login(&server.base, "admin", &passwords["admin"]).await;
    assert_eq!(
        server.scalar(
            "SELECT COUNT(*) FROM audit WHERE action = 'login_failed'",
            ""
        ),
        Some(1),
        "only the wrong password"
    );
}
