//! A district described in TOML: its name, SMS signature, upload window and catalogue. Applying it
//! creates the district (with a fresh ticket secret, printed once for the registration system) or
//! updates it in place; categories are upserted by code. `docs/district.example.toml` is the demo
//! district and the template.
use std::path::{Path, PathBuf};

use dossier_core::api::{DocumentKind, Requirement, Subject};
use dossier_core::domain::Condition;
use rand::RngCore;
use time::OffsetDateTime;

use crate::storage::review::AuditEntry;
use crate::storage::{self, CategoryRow, Db, District, StorageError};

#[derive(Debug, serde::Deserialize)]
pub struct DistrictFile {
    pub code: String,
    pub name: String,
    /// 【考区单位名称】 of the SMS text.
    pub sms_sign: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub upload_opens_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub upload_closes_at: Option<OffsetDateTime>,
    #[serde(rename = "category")]
    pub categories: Vec<CategoryFile>,
}

#[derive(Debug, serde::Deserialize)]
pub struct CategoryFile {
    pub code: String,
    pub name: String,
    pub description: String,
    pub requirement: Requirement,
    /// For `conditional`: who must upload it.
    pub required_when: Option<Condition>,
    pub condition_text: Option<String>,
    pub min_images: u32,
    pub max_images: u32,
    #[serde(default)]
    pub slot_labels: Vec<String>,
    pub document: DocumentKind,
    /// `document` (the default: the page is found and flattened) or `person` (a photo of the
    /// candidate, e.g. holding the ID card: never cropped).
    #[serde(default)]
    pub subject: Subject,
    /// Path of the example image (PNG or JPEG), relative to the TOML file.
    pub example: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum DistrictError {
    #[error("the district file is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("category {code}: {problem}")]
    Category { code: String, problem: String },
    #[error("the upload window must be given for a new district, opening before it closes")]
    Window,
    #[error("example image {path}: {problem}")]
    Example { path: String, problem: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub fn parse(text: &str) -> Result<DistrictFile, DistrictError> {
    let file: DistrictFile = toml::from_str(text)?;
    for c in &file.categories {
        let problem = |p: &str| DistrictError::Category {
            code: c.code.clone(),
            problem: p.into(),
        };
        if c.max_images == 0 || c.min_images > c.max_images {
            return Err(problem(
                "needs 1 <= max_images and min_images <= max_images",
            ));
        }
        if c.requirement == Requirement::Conditional && c.required_when.is_none() {
            return Err(problem("a conditional category needs required_when"));
        }
        if !c.slot_labels.is_empty() && c.slot_labels.len() != c.max_images as usize {
            return Err(problem("slot_labels must name every slot"));
        }
    }
    Ok(file)
}

/// What applying did: whether the district is new, and its ticket secret if it was just made.
pub struct Applied {
    pub created: bool,
    pub new_ticket_secret: Option<Vec<u8>>,
}

/// Apply a district file. `examples` gives each category's example image bytes and MIME type.
/// The change is written to the audit log in the same transaction, in `actor`'s name.
pub fn apply(
    db: &Db,
    actor: &str,
    file: &DistrictFile,
    examples: impl Fn(&CategoryFile) -> Result<Option<(Vec<u8>, String)>, DistrictError>,
) -> Result<Applied, DistrictError> {
    let mut images = Vec::new();
    for c in &file.categories {
        images.push(examples(c)?);
    }
    db.blocking_write(|tx| {
        let existing = storage::district(tx, &file.code).ok();
        let (opens, closes) = match (file.upload_opens_at, file.upload_closes_at, &existing) {
            (Some(o), Some(c), _) if o < c => (o, c),
            (None, None, Some(d)) => (d.upload_opens_at, d.upload_closes_at),
            _ => return Err(DistrictError::Window),
        };
        let new_secret = existing.is_none().then(|| {
            let mut secret = vec![0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            secret
        });
        let ticket_secret = existing
            .as_ref()
            .map(|d| d.ticket_secret.clone())
            .or(new_secret.clone())
            .expect("one of them");
        storage::upsert_district(
            tx,
            &District {
                code: file.code.clone(),
                name: file.name.clone(),
                sms_sign: file.sms_sign.clone(),
                ticket_secret,
                upload_opens_at: opens,
                upload_closes_at: closes,
            },
        )?;
        for (position, (c, image)) in file.categories.iter().zip(&images).enumerate() {
            let row = CategoryRow {
                code: c.code.clone(),
                position: position as i64 + 1,
                name: c.name.clone(),
                description: c.description.clone(),
                has_example: image.is_some(),
                requirement: c.requirement,
                condition: c.required_when.clone(),
                condition_text: c.condition_text.clone(),
                min_images: c.min_images,
                max_images: c.max_images,
                slot_labels: c.slot_labels.clone(),
                document: c.document,
                subject: c.subject,
            };
            storage::upsert_category(
                tx,
                &file.code,
                &row,
                image.as_ref().map(|(b, t)| (b.as_slice(), t.as_str())),
            )?;
        }
        let codes: Vec<&str> = file.categories.iter().map(|c| c.code.as_str()).collect();
        AuditEntry::new(OffsetDateTime::now_utc(), actor, "catalogue_changed")
            .detail(format!(
                "district {} ({}): upload window {opens}..{closes}, categories {}",
                file.code,
                if existing.is_none() { "new" } else { "updated" },
                codes.join(",")
            ))
            .append(tx)?;
        Ok(Applied {
            created: existing.is_none(),
            new_ticket_secret: new_secret,
        })
    })
}

/// Example images from files beside the TOML, checked to be JPEG or PNG by content.
pub fn examples_from_files(
    base: &Path,
) -> impl Fn(&CategoryFile) -> Result<Option<(Vec<u8>, String)>, DistrictError> + '_ {
    move |c| {
        let Some(path) = &c.example else {
            return Ok(None);
        };
        let full = base.join(path);
        let problem = |p: String| DistrictError::Example {
            path: full.display().to_string(),
            problem: p,
        };
        let bytes = std::fs::read(&full).map_err(|e| problem(e.to_string()))?;
        let format = dossier_core::photo::PhotoFormat::sniff(&bytes)
            .filter(|f| {
                matches!(
                    f,
                    dossier_core::photo::PhotoFormat::Jpeg | dossier_core::photo::PhotoFormat::Png
                )
            })
            .ok_or_else(|| problem("not a JPEG or PNG".into()))?;
        Ok(Some((bytes, format.mime().to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> (Db, PathBuf) {
        let dir = std::env::temp_dir().join(format!("dossier-district-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        (Db::open(&dir.join("db.sqlite3")).unwrap(), dir)
    }

    #[test]
    fn the_example_district_applies_and_reapplies_in_place() {
        let (db, dir) = temp_db();
        let file = parse(crate::demo::DISTRICT_FILE).unwrap();
        assert_eq!(file.categories.len(), 8);
        let first = apply(&db, "test", &file, |_| Ok(None)).unwrap();
        assert!(
            first.created
                && first
                    .new_ticket_secret
                    .as_ref()
                    .is_some_and(|s| s.len() == 32)
        );
        let again = apply(&db, "test", &file, |_| Ok(None)).unwrap();
        assert!(
            !again.created && again.new_ticket_secret.is_none(),
            "the secret is kept"
        );
        let stored = db
            .blocking_write(|tx| storage::district(tx, "demo"))
            .unwrap();
        assert_eq!(stored.ticket_secret, first.new_ticket_secret.unwrap());
        let categories = db
            .blocking_write(|tx| storage::categories(tx, "demo"))
            .unwrap();
        assert_eq!(categories[0].slot_labels, ["正面", "反面"]);
        assert!(categories[4].condition.is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn mistakes_in_a_district_file_are_named() {
        let bad = crate::demo::DISTRICT_FILE
            .replace("max_images = 2\nslot_labels", "max_images = 3\nslot_labels");
        assert!(
            matches!(parse(&bad), Err(DistrictError::Category { code, .. }) if code == "id_card")
        );
        let no_rule = crate::demo::DISTRICT_FILE.replace("required_when = ", "# required_when = ");
        assert!(
            matches!(parse(&no_rule), Err(DistrictError::Category { code, .. }) if code == "assistant_certificate")
        );
        let (db, dir) = temp_db();
        let mut file = parse(crate::demo::DISTRICT_FILE).unwrap();
        file.upload_opens_at = None;
        file.upload_closes_at = None;
        assert!(matches!(
            apply(&db, "test", &file, |_| Ok(None)),
            Err(DistrictError::Window)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
