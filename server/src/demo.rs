//! The demo district: the catalogue of `docs/district.example.toml` (as the Beijing, Jiangsu and
//! Tianjin guides list it), an open upload window, drawn example images, and three candidates,
//! one of them activated with a fresh password that `dossier-server demo` prints. Seeding again
//! updates in place.
use dossier_core::api::DocumentKind;
use dossier_core::api::review::{DistrictWindows, StaffRole};
use image::{Rgb, RgbImage};
use rand::Rng;
use time::{Duration, OffsetDateTime};

use crate::district::{self, DistrictError};
use crate::storage::{self, Db, RosterEntry, StorageError};

pub const DISTRICT: &str = "demo";

pub struct DemoCandidate {
    pub username: &'static str,
    pub name: &'static str,
    pub id_number: &'static str,
    pub exam_category: &'static str,
    pub exam_site: &'static str,
    pub mobile: &'static str,
    pub upgrade_from_assistant: bool,
}

/// Made-up people with made-up (but well-formed) ID numbers.
pub const CANDIDATES: [DemoCandidate; 3] = [
    DemoCandidate {
        username: "2026110100001",
        name: "张明",
        id_number: "110101199003091234",
        exam_category: "临床执业医师",
        exam_site: "东城区考点",
        mobile: "13800000001",
        upgrade_from_assistant: false,
    },
    DemoCandidate {
        username: "2026110100002",
        name: "李华",
        id_number: "110102199512072345",
        exam_category: "口腔执业助理医师",
        exam_site: "西城区考点",
        mobile: "13800000002",
        upgrade_from_assistant: false,
    },
    DemoCandidate {
        username: "2026110100003",
        name: "王芳",
        id_number: "110105198811053456",
        exam_category: "临床执业医师",
        exam_site: "东城区考点",
        mobile: "13800000003",
        upgrade_from_assistant: true,
    },
];

/// A simple drawn example (示例): an ID card or a page with lines and a seal, PNG.
pub fn example_image(kind: DocumentKind) -> Vec<u8> {
    let (w, h) = match kind {
        DocumentKind::IdCard => (428, 270),
        DocumentKind::A4 => (300, 424),
    };
    let mut img = RgbImage::from_pixel(w, h, Rgb([236, 240, 245]));
    let paper = match kind {
        DocumentKind::IdCard => Rgb([210, 228, 246]),
        DocumentKind::A4 => Rgb([255, 255, 255]),
    };
    for y in 12..h - 12 {
        for x in 12..w - 12 {
            img.put_pixel(x, y, paper);
        }
    }
    let ink = Rgb([70, 80, 95]);
    let mut bar = |x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb<u8>| {
        for y in y0..y1.min(h) {
            for x in x0..x1.min(w) {
                img.put_pixel(x, y, c);
            }
        }
    };
    match kind {
        DocumentKind::IdCard => {
            bar(300, 40, 396, 170, Rgb([160, 175, 195]));
            for (i, len) in [180u32, 150, 220, 120].iter().enumerate() {
                bar(36, 50 + i as u32 * 30, 36 + len, 60 + i as u32 * 30, ink);
            }
            bar(36, 210, 396, 224, ink);
        }
        DocumentKind::A4 => {
            bar(90, 40, 210, 54, ink);
            for i in 0..9 {
                bar(40, 90 + i * 24, 260 - (i % 3) * 30, 96 + i * 24, ink);
            }
        }
    }
    if kind == DocumentKind::A4 {
        let (cx, cy, r) = (220i32, 350i32, 34i32);
        for y in cy - r..=cy + r {
            for x in cx - r..=cx + r {
                let d2 = (x - cx).pow(2) + (y - cy).pow(2);
                if d2 <= r * r && d2 >= (r - 4).pow(2) {
                    img.put_pixel(x as u32, y as u32, Rgb([200, 40, 40]));
                }
            }
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("in-memory PNG");
    out.into_inner()
}

pub fn random_password() -> String {
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = rand::rng();
    let mut p: Vec<u8> = (0..9)
        .map(|_| LETTERS[rng.random_range(0..LETTERS.len())])
        .collect();
    p.extend((0..3).map(|_| DIGITS[rng.random_range(0..DIGITS.len())]));
    String::from_utf8(p).expect("ascii")
}

/// The demo district's description: the same file the README shows as the template.
pub const DISTRICT_FILE: &str = include_str!("../../docs/district.example.toml");

/// The demo's staff: a site reviewer for each exam site, a district reviewer, an administrator.
pub const STAFF: [(&str, &str, StaffRole, Option<&str>); 4] = [
    (
        "dongcheng",
        "东城区考点审核员",
        StaffRole::SiteReviewer,
        Some("东城区考点"),
    ),
    (
        "xicheng",
        "西城区考点审核员",
        StaffRole::SiteReviewer,
        Some("西城区考点"),
    ),
    ("district", "考区审核员", StaffRole::DistrictReviewer, None),
    ("admin", "考区管理员", StaffRole::DistrictAdmin, None),
];

/// Seed (or refresh) the demo district: upload window open from yesterday for 30 days, both
/// review windows open from yesterday for 60 days, drawn examples.
pub fn seed(db: &Db, now: OffsetDateTime) -> Result<(), DistrictError> {
    let mut file = district::parse(DISTRICT_FILE)?;
    file.upload_opens_at = Some(now - Duration::days(1));
    file.upload_closes_at = Some(now + Duration::days(30));
    district::apply(db, "demo", &file, |c| {
        Ok(Some((example_image(c.document), "image/png".to_string())))
    })?;
    db.blocking_write(|tx| {
        let (opens, closes) = (now - Duration::days(1), now + Duration::days(60));
        crate::storage::review::set_windows(
            tx,
            DISTRICT,
            &DistrictWindows {
                upload_opens_at: now - Duration::days(1),
                upload_closes_at: now + Duration::days(30),
                site_review_opens_at: opens,
                site_review_closes_at: closes,
                district_review_opens_at: opens,
                district_review_closes_at: closes,
            },
        )
    })?;
    db.blocking_write(|tx| {
        for c in &CANDIDATES {
            let mut attributes = std::collections::BTreeMap::new();
            attributes.insert(
                "upgrade_from_assistant".to_string(),
                if c.upgrade_from_assistant {
                    "是"
                } else {
                    "否"
                }
                .to_string(),
            );
            storage::upsert_roster_entry(
                tx,
                &RosterEntry {
                    username: c.username.into(),
                    name: c.name.into(),
                    id_number: c.id_number.into(),
                    exam_category: c.exam_category.into(),
                    district: DISTRICT.into(),
                    exam_site: c.exam_site.into(),
                    mobile: Some(c.mobile.into()),
                    attributes,
                },
            )?;
        }
        Ok::<_, StorageError>(())
    })?;
    Ok(())
}

/// Create the demo staff (or give them new passwords); returns each username with its password.
pub fn seed_staff(db: &Db, now: OffsetDateTime) -> Result<Vec<(String, String)>, StorageError> {
    let mut out = Vec::new();
    for (username, name, role, site) in STAFF {
        let password = random_password();
        let hash = crate::auth::hash_secret_blocking(&password);
        db.blocking_write(|tx| {
            use crate::storage::review as store;
            if store::staff_by_username(tx, username).is_ok() {
                return store::set_staff_password(tx, username, &hash);
            }
            store::insert_staff(
                tx,
                &store::Staff {
                    id: uuid::Uuid::new_v4(),
                    username: username.into(),
                    name: name.into(),
                    role,
                    district: DISTRICT.into(),
                    exam_site: site.map(String::from),
                    password_hash: hash.clone(),
                    totp_secret: None,
                    totp_enabled: false,
                    totp_required: false,
                    disabled: false,
                },
                now,
            )
        })?;
        out.push((username.to_string(), password));
    }
    Ok(out)
}
