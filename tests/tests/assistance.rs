//! Reviewer assistance (ID cards read and held against the roster), end to end and measured.
//!
//! The cards are generated (`core/tests/scenes/idcard.rs`: realistic layout in Debian's Noto
//! CJK, random holders with valid numbers, photographed on desks at angles with blur, glare and
//! JPEG noise), then go through the phone's pipeline to under 200 KB, then through the server's
//! reader (Tesseract, installed by `scripts/test.sh`), as a candidate's upload does.
#[path = "../../core/tests/scenes/mod.rs"]
mod scenes;

use std::sync::Arc;
use std::time::Duration;

use dossier_core::api::CardSide;
use dossier_core::client::{Client, UploadRequest};
use dossier_core::photo::{DocumentKind, PhotoSource, PrepareOptions, prepare};
use dossier_server::analysis::fingerprint::{self, Fingerprint, read_document, same_document};
use dossier_server::analysis::idcard::{CardReading, read_card};
use dossier_server::analysis::{AnalysisSettings, Roster, findings};
use dossier_server::storage::analysis::AnalysisRow;
use dossier_tests::{CANDIDATES, StaffSession, TestServer, photo};
use scenes::diploma::Diploma;
use scenes::idcard::{IdCard, Side, id_photo};
use serde_json::Value;
use uuid::Uuid;

/// What the phone sends: the photo prepared for an ID-card slot, under 200 KB.
fn phone_upload(jpeg: &[u8]) -> Vec<u8> {
    phone_upload_as(jpeg, DocumentKind::IdCard)
}

/// What the phone sends for a slot of `document`'s kind.
fn phone_upload_as(jpeg: &[u8], document: DocumentKind) -> Vec<u8> {
    let options = PrepareOptions {
        document,
        ..PrepareOptions::default()
    };
    let prepared = prepare(PhotoSource::Bytes(jpeg), &options).expect("the pipeline prepares it");
    assert!(prepared.jpeg.len() <= 200 * 1024);
    prepared.jpeg
}

fn ocr() -> dossier_server::analysis::ocr::Ocr {
    let settings = AnalysisSettings {
        line_model: dossier_tests::line_model(),
        ..AnalysisSettings::default()
    };
    let ocr = settings.ocr();
    ocr.tesseract
        .available()
        .expect("Tesseract with chi_sim (scripts/test.sh installs tesseract-ocr-chi-sim)");
    assert!(
        ocr.lines.is_some(),
        "PP-OCR's line model (scripts/test.sh installs it into models/)"
    );
    ocr
}

fn ymd((y, m, d): (u32, u32, u32)) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// The findings the reviewer would see for this reading, in slot `slot`, against `card`'s
/// holder as registered.
fn findings_for(
    reading: &CardReading,
    slot: u32,
    card: &IdCard,
) -> dossier_core::api::ImageFindings {
    let row = AnalysisRow {
        state: "done".into(),
        reading_json: Some(serde_json::to_string(reading).unwrap()),
    };
    let roster = Roster {
        name: &card.name,
        id_number: &card.number,
        whole_numbers: true,
        exam_day: time::Date::from_calendar_date(2027, time::Month::May, 1).unwrap(),
    };
    findings(Some(&row), slot, &roster, true).expect("a finding")
}

/// How well generated cards are read. The issue asks for the number read exactly on ≥97% of
/// fronts, the name on ≥90%, the side on ≥99%, and `mismatch` claimed for a matching card on
/// ≤1%. The number and the mismatches meet it and are asserted so; names and sides are not
/// there yet (the README has the figures), so their floors sit just under what is reached and
/// catch a regression. The figures are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_cards_are_read_off_phone_photos() {
    const CARDS: u64 = 60;
    let ocr = Arc::new(ocr());
    let mut tasks = tokio::task::JoinSet::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(2));
    for seed in 0..CARDS {
        for side in [Side::Front, Side::Back] {
            let (ocr, permits) = (ocr.clone(), permits.clone());
            tasks.spawn(async move {
                let _turn = permits.acquire_owned().await.unwrap();
                let shot = tokio::task::spawn_blocking(move || {
                    let shot = id_photo(1000 + seed, side);
                    let upload = phone_upload(&shot.jpeg);
                    (shot, upload)
                })
                .await
                .unwrap();
                let (shot, upload) = shot;
                let started = std::time::Instant::now();
                let (reading, _) = read_card(upload, &ocr).await.expect("Tesseract runs");
                (seed, shot.card, side, reading, started.elapsed())
            });
        }
    }
    let (mut fronts, mut backs) = (0, 0);
    let (mut numbers, mut names, mut sides, mut false_mismatches) = (0, 0, 0, 0);
    let (mut validity, mut expiry_right, mut authorities) = (0, 0, 0);
    let mut misses = Vec::new();
    let mut times = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (seed, card, side, reading, took) = done.unwrap();
        times.push(took.as_secs_f64());
        let expected_side = match side {
            Side::Front => CardSide::Front,
            Side::Back => CardSide::Back,
        };
        if reading.side == Some(expected_side) {
            sides += 1;
        } else {
            misses.push(format!("{seed} {side:?}: side {:?}", reading.side));
        }
        match side {
            Side::Front => {
                fronts += 1;
                if reading.number.as_deref() == Some(card.number.as_str()) {
                    numbers += 1;
                } else {
                    misses.push(format!(
                        "{seed} number {:?} for {}",
                        reading.number, card.number
                    ));
                }
                if reading.name.as_deref() == Some(card.name.as_str()) {
                    names += 1;
                } else {
                    misses.push(format!("{seed} name {:?} for {}", reading.name, card.name));
                }
                let f = findings_for(&reading, 0, &card);
                if f.roster_match == Some(dossier_core::api::RosterMatch::Mismatch) {
                    false_mismatches += 1;
                    misses.push(format!("{seed}: mismatch claimed {:?}", f.mismatched));
                }
            }
            Side::Back => {
                backs += 1;
                let until = card.valid_until.map_or("长期".to_string(), ymd);
                if reading.valid_until.as_deref() == Some(until.as_str()) {
                    validity += 1;
                }
                let f = findings_for(&reading, 1, &card);
                let expired = card.valid_until.is_some_and(|d| d < (2027, 5, 1));
                if f.expired == expired {
                    expiry_right += 1;
                }
                if reading.authority.as_deref() == Some(card.authority.as_str()) {
                    authorities += 1;
                }
            }
        }
    }
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!(
        "ID cards read off {} phone photos ({fronts} fronts, {backs} backs), under 200 KB:\n  \
         number exactly {numbers}/{fronts} ({:.1}%), name {names}/{fronts} ({:.1}%), side \
         {sides}/{} ({:.1}%), mismatch claimed on a matching card {false_mismatches}/{fronts} \
         ({:.1}%); back: validity {validity}/{backs}, expiry judged right {expiry_right}/{backs}, \
         authority {authorities}/{backs}",
        fronts + backs,
        pct(numbers, fronts),
        pct(names, fronts),
        fronts + backs,
        pct(sides, fronts + backs),
        pct(false_mismatches, fronts),
    );
    // Reported, not asserted (shared machines are noisy): two readings at a time on this
    // machine's two cores, each Tesseract single-threaded.
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "  time per image (pipeline again + OCR): p50 {:.2} s, p95 {:.2} s",
        at(0.5),
        at(0.95)
    );
    for miss in &misses {
        println!("  {miss}");
    }
    // The targets.
    assert!(pct(numbers, fronts) >= 97.0, "numbers read exactly");
    assert!(pct(false_mismatches, fronts) <= 1.0, "false mismatches");
    assert!(pct(names, fronts) >= 90.0, "names read");
    assert!(pct(sides, fronts + backs) >= 99.0, "sides told");
}

/// How a copy of a stored certificate was made before a second candidate uploaded it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Copy {
    Original,
    /// Photographed again (another desk, angle and light), through the phone's pipeline.
    Rephotographed,
    /// The stored JPEG decoded and saved again at quality 60.
    Reencoded,
    /// Scaled to 60% and saved again.
    Resized,
    /// 5% cut off every side.
    Cropped,
}

fn copy_of(diploma: &Diploma, stored: &[u8], how: Copy, seed: u64) -> Vec<u8> {
    let decoded = || image::load_from_memory(stored).unwrap().to_rgb8();
    let jpeg = |image: &image::RgbImage, quality: u8| {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(image)
            .unwrap();
        out
    };
    match how {
        Copy::Original => stored.to_vec(),
        Copy::Rephotographed => phone_upload_as(
            &scenes::diploma::photo_of(diploma, seed).jpeg,
            DocumentKind::A4,
        ),
        Copy::Reencoded => jpeg(&decoded(), 60),
        Copy::Resized => {
            let page = decoded();
            let (w, h) = (page.width() * 6 / 10, page.height() * 6 / 10);
            jpeg(
                &image::imageops::resize(&page, w, h, image::imageops::FilterType::Triangle),
                85,
            )
        }
        Copy::Cropped => {
            let page = decoded();
            let (dx, dy) = (page.width() / 20, page.height() / 20);
            let cut = image::imageops::crop_imm(
                &page,
                dx,
                dy,
                page.width() - 2 * dx,
                page.height() - 2 * dy,
            )
            .to_image();
            jpeg(&cut, 85)
        }
    }
}

/// Reused documents. The issue asks that the same diploma re-photographed, re-encoded, resized
/// or cropped by 5% is found, and that 20 different diplomas of one template (the same school,
/// layout and text but for the holder, and certificate numbers one apart) are not confused.
/// Every copy must be found and no two classmates confused: a false "reused" sends a reviewer
/// after an honest candidate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_diplomas_are_found_and_classmates_kept_apart() {
    const CLASS: u32 = 20;
    const COPIED: u32 = 5;
    const SEED: u64 = 2021;
    let ocr = Arc::new(ocr());
    let permits = Arc::new(tokio::sync::Semaphore::new(2));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..CLASS {
        let hows: &[Copy] = if index < COPIED {
            &[
                Copy::Original,
                Copy::Rephotographed,
                Copy::Reencoded,
                Copy::Resized,
                Copy::Cropped,
            ]
        } else {
            &[Copy::Original]
        };
        for &how in hows {
            let (ocr, permits) = (ocr.clone(), permits.clone());
            tasks.spawn(async move {
                let _turn = permits.acquire_owned().await.unwrap();
                let (diploma, upload) = tokio::task::spawn_blocking(move || {
                    let diploma = Diploma::of_class(index, SEED);
                    let shot = scenes::diploma::photo_of(&diploma, SEED * 1000 + u64::from(index));
                    let stored = phone_upload_as(&shot.jpeg, DocumentKind::A4);
                    let copy = copy_of(&diploma, &stored, how, SEED * 7000 + u64::from(index));
                    (diploma, copy)
                })
                .await
                .unwrap();
                let started = std::time::Instant::now();
                let print = read_document(upload, DocumentKind::A4, &ocr.tesseract)
                    .await
                    .expect("Tesseract runs");
                (index, how, diploma.number, print, started.elapsed())
            });
        }
    }
    let mut prints: Vec<(u32, Copy, String, Fingerprint)> = Vec::new();
    let mut times = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (index, how, number, print, took) = done.unwrap();
        times.push(took.as_secs_f64());
        prints.push((index, how, number, print));
    }
    prints.sort_by_key(|p| (p.0, p.1 as u8));
    let originals: Vec<_> = prints.iter().filter(|p| p.1 == Copy::Original).collect();
    let read_exactly = originals
        .iter()
        .filter(|p| p.3.marks.contains(&p.2))
        .count();
    let wrong_marks: Vec<_> = prints
        .iter()
        .filter(|p| p.3.marks.iter().any(|m| m != &p.2))
        .map(|p| (p.0, p.1, p.3.marks.clone()))
        .collect();
    // Each copy against its original.
    let mut found = Vec::new();
    let mut missed = Vec::new();
    for copy in prints.iter().filter(|p| p.1 != Copy::Original) {
        let original = originals.iter().find(|o| o.0 == copy.0).unwrap();
        let bits = (original.3.phash ^ copy.3.phash).count_ones();
        if same_document(&original.3, &copy.3) {
            found.push((copy.0, copy.1, bits));
        } else {
            missed.push((copy.0, copy.1, bits, copy.3.marks.clone()));
        }
    }
    // Every pair of classmates, and their look's distance.
    let mut confused = Vec::new();
    let mut classmate_bits = Vec::new();
    for (i, a) in originals.iter().enumerate() {
        for b in &originals[i + 1..] {
            classmate_bits.push((a.3.phash ^ b.3.phash).count_ones());
            if same_document(&a.3, &b.3) {
                confused.push((a.0, b.0));
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let copy_bits: Vec<u32> = found.iter().map(|f| f.2).collect();
    println!(
        "reused documents: {} of {} copies found, missed {missed:?}; {} of {} classmate pairs \
         confused {confused:?}; certificate number read exactly on {read_exactly} of {}, other \
         marks {wrong_marks:?}; look distance (of 64 bits, alike at <= {}): copies {:?}, \
         classmates {}..{}; time per image p50 {:.2} s, p95 {:.2} s",
        found.len(),
        found.len() + missed.len(),
        confused.len(),
        classmate_bits.len(),
        originals.len(),
        fingerprint::SAME_LOOK_BITS,
        copy_bits,
        classmate_bits.iter().min().unwrap(),
        classmate_bits.iter().max().unwrap(),
        at(0.5),
        at(0.95),
    );
    assert!(confused.is_empty(), "classmates confused: {confused:?}");
    assert!(missed.is_empty(), "copies not found: {missed:?}");
}

async fn upload(client: &Client, category: &str, slot: u32, jpeg: Vec<u8>) -> Uuid {
    client
        .upload(&UploadRequest {
            category,
            jpeg,
            idempotency_key: Uuid::new_v4(),
            slot: Some(slot),
            replaces: None,
        })
        .await
        .expect("uploaded")
        .id
}

/// Fill the other required categories and submit.
async fn submit_rest(client: &Client) {
    for (category, seed) in [("diploma", 1), ("probation", 2), ("work_proof", 3)] {
        upload(client, category, 0, photo(seed)).await;
    }
    client.submit().await.expect("submitted");
}

/// The findings of the ID-card images in a reviewer's dossier view, slot by slot, once every
/// analysis is done.
async fn card_findings(reviewer: &StaffSession, candidate: Uuid) -> Vec<Value> {
    for _ in 0..240 {
        let (status, dossier) = reviewer
            .get(&format!("/api/v1/review/dossiers/{candidate}"))
            .await;
        assert_eq!(status, 200, "{dossier}");
        let card = dossier["materials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["category"]["code"] == "id_card")
            .unwrap()
            .clone();
        let images = card["images"].as_array().unwrap().clone();
        if images.iter().all(|i| i["findings"]["state"] == "done") {
            return images.iter().map(|i| i["findings"].clone()).collect();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the analyses did not finish in two minutes");
}

/// Two candidates of different sites: one uploads their own card, one someone else's. Each site's
/// reviewer sees the right findings beside the images, the other site's reviewer sees nothing of
/// the dossier, and the candidate who uploaded another's card is warned before submitting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_see_the_card_held_against_the_roster() {
    ocr();
    let server = TestServer::start_with(|s| s.analysis.enabled = true).await;
    let (zhang, li) = (&CANDIDATES[0], &CANDIDATES[1]);

    // 张明's own card: his roster name and number on the front; the back is valid for life.
    let mut rng = scenes::Rng::new(7);
    let mut own = IdCard::random(&mut rng);
    own.name = zhang.name.to_string();
    own.number = zhang.id_number.to_string();
    own.valid_until = None;
    let front = scenes::idcard::photo_of(&own, 11, Side::Front).jpeg;
    let back = scenes::idcard::photo_of(&own, 12, Side::Back).jpeg;
    let client = server.activated(zhang.username).await;
    upload(&client, "id_card", 0, phone_upload(&front)).await;
    upload(&client, "id_card", 1, phone_upload(&back)).await;
    submit_rest(&client).await;

    // 李华 uploads somebody else's card, front and back the wrong way round.
    let other = id_photo(4242, Side::Front);
    let other_back = id_photo(4243, Side::Back);
    let li_client = server.activated(li.username).await;
    upload(&li_client, "id_card", 1, phone_upload(&other.jpeg)).await;
    upload(&li_client, "id_card", 0, phone_upload(&other_back.jpeg)).await;

    let passwords = server.staff_passwords();
    let dongcheng = StaffSession::login(&server.base, "dongcheng", &passwords["dongcheng"]).await;
    let xicheng = StaffSession::login(&server.base, "xicheng", &passwords["xicheng"]).await;

    let zhang_id = server.candidate_id(zhang.username);
    let found = card_findings(&dongcheng, zhang_id).await;
    assert_eq!(found[0]["side"], "front", "{found:?}");
    assert_eq!(found[0]["roster_match"], "match", "{found:?}");
    assert_eq!(found[0]["check_digit_ok"], true);
    assert_eq!(
        found[0]["number_read"], "110***********1234",
        "masked for a site reviewer"
    );
    assert!(
        found[0].get("name_read").is_none() || found[0]["name_read"] == "张明",
        "a name is read right or not at all: {found:?}"
    );
    assert_eq!(found[1]["side"], "back", "{found:?}");
    assert_eq!(found[1]["valid_until"], "长期");
    assert_eq!(found[1]["expired"], false);
    assert!(found.iter().all(|f| f["wrong_slot"] == false));

    // The other site's reviewer sees nothing of 张明's dossier.
    let (status, _) = xicheng
        .get(&format!("/api/v1/review/dossiers/{zhang_id}"))
        .await;
    assert_eq!(status, 404);

    // 李华 is warned before submitting: the sides are swapped and the number is not his.
    let view = loop {
        let view = li_client.dossier().await.unwrap();
        let card = view
            .materials
            .iter()
            .find(|m| m.category.code == "id_card")
            .unwrap();
        if card.images.iter().all(|i| {
            i.findings
                .as_ref()
                .is_some_and(|f| f.state == dossier_core::api::AnalysisState::Done)
        }) {
            break card.clone();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let by_slot = |slot: u32| {
        view.images
            .iter()
            .find(|i| i.slot == slot)
            .and_then(|i| i.findings.clone())
            .unwrap()
    };
    assert!(by_slot(0).wrong_slot && by_slot(1).wrong_slot, "{view:?}");
    assert_eq!(
        by_slot(1).roster_match,
        Some(dossier_core::api::RosterMatch::Mismatch)
    );
    assert!(by_slot(1).mismatched.contains(&"number".to_string()));
    submit_rest(&li_client).await;

    // 李华's site reviewer sees the same; 东城's does not see his dossier at all.
    let li_id = server.candidate_id(li.username);
    let found = card_findings(&xicheng, li_id).await;
    assert_eq!(found[1]["roster_match"], "mismatch", "{found:?}");
    assert!(
        found[1]["mismatched"]
            .as_array()
            .unwrap()
            .contains(&Value::from("number"))
    );
    assert_eq!(found[0]["side"], "back");
    assert_eq!(found[0]["wrong_slot"], true);
    let (status, _) = dongcheng
        .get(&format!("/api/v1/review/dossiers/{li_id}"))
        .await;
    assert_eq!(status, 404);

    // The queue narrowed to dossiers with findings: 李华's at his site, none at 张明's.
    let (_, page) = xicheng
        .get("/api/v1/review/queue?stage=site&findings=true")
        .await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["entries"][0]["name"], li.name);
    let (_, page) = dongcheng
        .get("/api/v1/review/queue?stage=site&findings=true")
        .await;
    assert_eq!(page["total"], 0, "{page}");
    let (_, page) = dongcheng.get("/api/v1/review/queue?stage=site").await;
    assert_eq!(page["total"], 1, "{page}");
}

/// The findings of `category`'s live images in a reviewer's dossier view.
async fn document_findings(reviewer: &StaffSession, candidate: Uuid, category: &str) -> Vec<Value> {
    let (status, dossier) = reviewer
        .get(&format!("/api/v1/review/dossiers/{candidate}"))
        .await;
    assert_eq!(status, 200, "{dossier}");
    dossier["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["category"]["code"] == category)
        .unwrap()["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["findings"].clone())
        .collect()
}

/// A diploma reused by two candidates of one site and a third of another: each site's reviewer
/// sees the reuse between the dossiers of their own site only, with a link to the other one;
/// the district's reviewer sees all three; the candidates see nothing of it; the queue narrowed
/// to findings lists the reusing dossiers of the reviewer's site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_see_a_reused_diploma_within_their_scope() {
    ocr();
    let server = TestServer::start_with(|s| s.analysis.enabled = true).await;
    let (zhang, li, wang) = (&CANDIDATES[0], &CANDIDATES[1], &CANDIDATES[2]);
    // 张明's diploma as his phone sent it; 王芳 (his site) photographs it again, 李华 (西城)
    // uploads a scaled-down copy of what 张明 stored.
    let diploma = Diploma::of_class(0, 77);
    let (own, again, scaled, other) = tokio::task::spawn_blocking(move || {
        let own = phone_upload_as(
            &scenes::diploma::photo_of(&diploma, 771).jpeg,
            DocumentKind::A4,
        );
        let again = copy_of(&diploma, &own, Copy::Rephotographed, 772);
        let scaled = copy_of(&diploma, &own, Copy::Resized, 0);
        // A classmate's certificate: the same template, another holder and number.
        let classmate = Diploma::of_class(1, 77);
        let other = phone_upload_as(
            &scenes::diploma::photo_of(&classmate, 773).jpeg,
            DocumentKind::A4,
        );
        (own, again, scaled, other)
    })
    .await
    .unwrap();

    let submit = |username: &'static str, diplomas: Vec<Vec<u8>>, assistant: bool| {
        let server = &server;
        async move {
            let client = server.activated(username).await;
            upload(&client, "id_card", 0, photo(21)).await;
            upload(&client, "id_card", 1, photo(22)).await;
            for (slot, diploma) in diplomas.into_iter().enumerate() {
                upload(&client, "diploma", slot as u32, diploma).await;
            }
            for (category, seed) in [("probation", 2), ("work_proof", 3)] {
                upload(&client, category, 0, photo(seed)).await;
            }
            if assistant {
                upload(&client, "assistant_certificate", 0, photo(4)).await;
            }
            client.submit().await.expect("submitted");
            client
        }
    };
    // 张明's second image is a classmate's certificate (the same template, another number): no
    // reuse with anyone.
    let zhang_client = submit(zhang.username, vec![own, other], false).await;
    let wang_client = submit(wang.username, vec![again], true).await;
    submit(li.username, vec![scaled], false).await;
    server.analyses_settled().await;

    let passwords = server.staff_passwords();
    let dongcheng = StaffSession::login(&server.base, "dongcheng", &passwords["dongcheng"]).await;
    let xicheng = StaffSession::login(&server.base, "xicheng", &passwords["xicheng"]).await;
    let district = StaffSession::login(&server.base, "district", &passwords["district"]).await;
    let (zhang_id, li_id, wang_id) = (
        server.candidate_id(zhang.username),
        server.candidate_id(li.username),
        server.candidate_id(wang.username),
    );
    let links = |findings: &[Value]| -> Vec<(String, String)> {
        findings
            .iter()
            .flat_map(|f| f["reused_in"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["category"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    // 东城: 张明's first diploma is 王芳's, and the other way round; the classmate's is nobody's.
    let found = document_findings(&dongcheng, zhang_id, "diploma").await;
    assert_eq!(
        links(&found[..1]),
        vec![("王芳".to_string(), "diploma".to_string())],
        "{found:?}"
    );
    assert!(found[1].is_null(), "the classmate's certificate: {found:?}");
    let found = document_findings(&dongcheng, wang_id, "diploma").await;
    assert_eq!(
        links(&found),
        vec![("张明".to_string(), "diploma".to_string())]
    );
    assert_eq!(
        found[0]["reused_in"][0]["candidate_id"],
        zhang_id.to_string()
    );
    // 西城 sees 李华's copy but nothing of the dossiers at 东城.
    let found = document_findings(&xicheng, li_id, "diploma").await;
    assert!(found[0].is_null(), "{found:?}");
    // The district's reviewer sees all three.
    let found = document_findings(&district, li_id, "diploma").await;
    let mut names: Vec<String> = links(&found).into_iter().map(|l| l.0).collect();
    names.sort();
    assert_eq!(names, vec!["张明".to_string(), "王芳".to_string()]);

    // The queue narrowed to findings: 东城's reviewer gets both of its reusing dossiers, 西城's
    // none (李华's copy is reused only across the sites).
    let (_, page) = dongcheng
        .get("/api/v1/review/queue?stage=site&findings=true")
        .await;
    assert_eq!(page["total"], 2, "{page}");
    let (_, page) = xicheng
        .get("/api/v1/review/queue?stage=site&findings=true")
        .await;
    assert_eq!(page["total"], 0, "{page}");

    // The candidates are told nothing of another's dossier.
    for client in [&zhang_client, &wang_client] {
        let view = client.dossier().await.unwrap();
        let diplomas = view
            .materials
            .iter()
            .find(|m| m.category.code == "diploma")
            .unwrap();
        assert!(diplomas.images.iter().all(|i| i.findings.is_none()));
    }
}
