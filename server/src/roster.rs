//! Importing the registration system's roster (CSV): number, name, ID number, exam category,
//! district, exam site, mobile, and any further columns as attributes the requirement rules can
//! use. Headers may be English or the registration system's Chinese. All lines or none.
use std::collections::BTreeMap;

use crate::storage::{self, Db, RosterEntry, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("the file could not be read: {0}")]
    Read(#[from] csv::Error),
    #[error("the header lacks the column {0:?}")]
    MissingColumn(&'static str),
    #[error("line {line}: {problem}")]
    Line { line: u64, problem: String },
    #[error("line {line}: district {district:?} does not exist (create it first)")]
    UnknownDistrict { line: u64, district: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The columns, with the names they may carry.
const COLUMNS: [(&str, &[&str]); 7] = [
    ("number", &["number", "username", "报名号", "报名账号"]),
    ("name", &["name", "姓名"]),
    ("id_number", &["id_number", "证件号码", "身份证号"]),
    ("exam_category", &["exam_category", "报考类别"]),
    ("district", &["district", "考区"]),
    ("exam_site", &["exam_site", "考点"]),
    ("mobile", &["mobile", "手机号码", "手机"]),
];

pub struct ImportSummary {
    pub added: usize,
    pub updated: usize,
}

/// Parse the whole file first; any bad line refuses the import, naming the line.
pub fn parse(reader: impl std::io::Read) -> Result<Vec<RosterEntry>, RosterError> {
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers: Vec<String> = csv
        .headers()?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut index = BTreeMap::new();
    for (column, names) in COLUMNS {
        let i = headers.iter().position(|h| names.contains(&h.as_str()));
        match (column, i) {
            (_, Some(i)) => {
                index.insert(column, i);
            }
            ("mobile", None) => {}
            (c, None) => return Err(RosterError::MissingColumn(c)),
        }
    }
    let known: Vec<usize> = index.values().copied().collect();
    let mut entries = Vec::new();
    for (n, record) in csv.records().enumerate() {
        let record = record?;
        let line = n as u64 + 2;
        let field = |c: &str| {
            index
                .get(c)
                .and_then(|i| record.get(*i))
                .unwrap_or("")
                .to_string()
        };
        let entry = RosterEntry {
            username: field("number"),
            name: field("name"),
            id_number: field("id_number"),
            exam_category: field("exam_category"),
            district: field("district"),
            exam_site: field("exam_site"),
            mobile: Some(field("mobile")).filter(|m| !m.is_empty()),
            attributes: headers
                .iter()
                .enumerate()
                .filter(|(i, _)| !known.contains(i))
                .filter_map(|(i, h)| {
                    record
                        .get(i)
                        .filter(|v| !v.is_empty())
                        .map(|v| (h.clone(), v.to_string()))
                })
                .collect(),
        };
        for (value, what) in [
            (&entry.username, "number"),
            (&entry.name, "name"),
            (&entry.id_number, "ID number"),
            (&entry.exam_category, "exam category"),
            (&entry.district, "district"),
            (&entry.exam_site, "exam site"),
        ] {
            if value.is_empty() {
                return Err(RosterError::Line {
                    line,
                    problem: format!("the {what} is empty"),
                });
            }
        }
        if let Some(m) = &entry.mobile {
            dossier_core::domain::Mobile::parse(m).map_err(|p| RosterError::Line {
                line,
                problem: p.to_string(),
            })?;
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Import in one transaction.
pub fn import(db: &Db, entries: &[RosterEntry]) -> Result<ImportSummary, RosterError> {
    db.blocking_write(|tx| {
        let mut summary = ImportSummary {
            added: 0,
            updated: 0,
        };
        for (n, e) in entries.iter().enumerate() {
            if let Err(StorageError::NotFound) = storage::district(tx, &e.district) {
                return Err(RosterError::UnknownDistrict {
                    line: n as u64 + 2,
                    district: e.district.clone(),
                });
            }
            if storage::upsert_roster_entry(tx, e)? {
                summary.added += 1;
            } else {
                summary.updated += 1;
            }
        }
        Ok(summary)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_headers_and_extra_attributes() {
        let csv = "报名号,姓名,证件号码,报考类别,考区,考点,手机号码,upgrade_from_assistant\n\
                   2026001,张三,110101199001011234,临床执业医师,demo,东城考点,13800000000,是\n";
        let entries = parse(csv.as_bytes()).unwrap();
        assert_eq!(entries[0].username, "2026001");
        assert_eq!(
            entries[0]
                .attributes
                .get("upgrade_from_assistant")
                .map(String::as_str),
            Some("是")
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let csv = "number,name,id_number,exam_category,district,exam_site,mobile\n\
                   1,A,X,Y,demo,S,13800000000\n2,,X,Y,demo,S,\n";
        let err = parse(csv.as_bytes()).err().unwrap();
        assert!(err.to_string().starts_with("line 3"), "{err}");
    }
}
