//! The domain rules, once: which material may be changed when, what submitting needs, who must
//! upload what. The server enforces them; the app uses the same functions to grey out a button
//! before the server has to say no.
//!
//! Terms, as the exam centre's operating guides use them: a district (考区) publishes a catalogue of
//! material categories (报名材料); a candidate's dossier holds images per category; "submit for
//! review" (提交审核) locks everything (已锁定); a reviewer may return single materials (退回), which
//! unlocks them (未锁定) until the candidate submits again.
use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::api::{DossierState, MaterialState, Requirement, WindowState};

/// Attributes of a candidate that requirement rules look at, from the registration system's
/// roster: `exam_category` (e.g. 临床执业医师), `id_type` (居民身份证, 护照, ...), and any extra
/// column of the roster.
pub type CandidateAttributes = BTreeMap<String, String>;

/// A "必传" rule: the category is required for candidates whose `attribute` is one of `any_of`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Condition {
    pub attribute: String,
    pub any_of: Vec<String>,
}

impl Condition {
    pub fn holds_for(&self, attributes: &CandidateAttributes) -> bool {
        attributes
            .get(&self.attribute)
            .is_some_and(|v| self.any_of.iter().any(|a| a == v))
    }
}

/// Whether this candidate must upload the category before submitting.
pub fn required_for(
    requirement: Requirement,
    condition: Option<&Condition>,
    attributes: &CandidateAttributes,
) -> bool {
    match requirement {
        Requirement::Required => true,
        Requirement::Optional => false,
        Requirement::Conditional => condition.is_some_and(|c| c.holds_for(attributes)),
    }
}

/// The upload window (上传时间) at `now`, by the server's clock. Both ends are inclusive of the
/// opening instant and exclusive of the closing one.
pub fn window_state(
    opens_at: OffsetDateTime,
    closes_at: OffsetDateTime,
    now: OffsetDateTime,
) -> WindowState {
    if now < opens_at {
        WindowState::NotYetOpen
    } else if now < closes_at {
        WindowState::Open
    } else {
        WindowState::Closed
    }
}

/// Locked materials cannot be changed by the candidate: submitted and not returned, or approved.
pub fn is_locked(state: MaterialState) -> bool {
    matches!(state, MaterialState::Submitted | MaterialState::Approved)
}

/// Why a change to a material is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRefusal {
    #[error("the upload window has not opened yet")]
    WindowNotOpen,
    #[error("the upload window has closed; materials can no longer be changed")]
    WindowClosed,
    #[error("this material is locked (submitted for review and not returned)")]
    Locked,
    #[error("this category takes at most {max} images")]
    CountReached { max: u32 },
}

fn check_window(window: WindowState) -> Result<(), ChangeRefusal> {
    match window {
        WindowState::NotYetOpen => Err(ChangeRefusal::WindowNotOpen),
        WindowState::Closed => Err(ChangeRefusal::WindowClosed),
        WindowState::Open => Ok(()),
    }
}

/// May the candidate delete an image of a material in this state?
pub fn check_delete(window: WindowState, material: MaterialState) -> Result<(), ChangeRefusal> {
    check_window(window)?;
    if is_locked(material) {
        return Err(ChangeRefusal::Locked);
    }
    Ok(())
}

/// May the candidate add an image to a material holding `images` of at most `max`?
pub fn check_upload(
    window: WindowState,
    material: MaterialState,
    images: u32,
    max: u32,
) -> Result<(), ChangeRefusal> {
    check_delete(window, material)?;
    if images >= max {
        return Err(ChangeRefusal::CountReached { max });
    }
    Ok(())
}

/// One category of a dossier as submit sees it.
#[derive(Debug, Clone)]
pub struct MaterialSummary<'a> {
    pub category: &'a str,
    pub required: bool,
    pub images: u32,
    pub min_images: u32,
}

/// Why "submit for review" is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitRefusal {
    #[error(transparent)]
    Window(ChangeRefusal),
    #[error("already submitted: nothing is unlocked")]
    NothingUnlocked,
    #[error("required materials are missing: {}", .0.join(", "))]
    Missing(Vec<String>),
}

/// The categories required for this candidate that hold fewer images than their minimum.
pub fn missing_required(materials: &[MaterialSummary<'_>]) -> Vec<String> {
    materials
        .iter()
        .filter(|m| m.required && m.images < m.min_images)
        .map(|m| m.category.to_string())
        .collect()
}

/// Submit needs an open window, something unlocked (a draft, or returned materials), and every
/// category required for this candidate holding at least its minimum number of images.
pub fn check_submit(
    window: WindowState,
    dossier: DossierState,
    materials: &[MaterialSummary<'_>],
) -> Result<(), SubmitRefusal> {
    check_window(window).map_err(SubmitRefusal::Window)?;
    if !matches!(dossier, DossierState::Draft | DossierState::Returned) {
        return Err(SubmitRefusal::NothingUnlocked);
    }
    let missing = missing_required(materials);
    if !missing.is_empty() {
        return Err(SubmitRefusal::Missing(missing));
    }
    Ok(())
}

/// A password that follows the activation page's rule: 8-20 characters, letters and digits only,
/// at least one of each, case-sensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(password: &str) -> Result<Password, &'static str> {
        let len = password.chars().count();
        if !(8..=20).contains(&len) {
            return Err("the password must be 8-20 characters long");
        }
        if !password.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("the password may contain only letters and digits");
        }
        if !password.chars().any(|c| c.is_ascii_alphabetic())
            || !password.chars().any(|c| c.is_ascii_digit())
        {
            return Err("the password must contain both letters and digits");
        }
        Ok(Password(password.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A staff account's username: 2-32 characters of ASCII letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit. It is typed at sign-in and shown in the audit trail, so it
/// must read the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUsername(String);

impl StaffUsername {
    pub fn parse(username: &str) -> Result<StaffUsername, &'static str> {
        let username = username.trim();
        let len = username.chars().count();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if (2..=32).contains(&len)
            && username.chars().all(allowed)
            && username.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            Ok(StaffUsername(username.to_string()))
        } else {
            Err("the username must be 2-32 letters, digits, '.', '_' or '-'")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name shown to people (a reviewer's name, an exam site, a category's name): 1-64
/// characters with no control characters, no invisible or direction-changing characters
/// (U+202E would show "evil" as "live"), and no markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(name: &str) -> Result<DisplayName, &'static str> {
        let name = name.trim();
        let len = name.chars().count();
        if !(1..=64).contains(&len) {
            return Err("the name must be 1-64 characters long");
        }
        if !plain_text(name) {
            return Err(
                "the name may not contain control characters, invisible characters or markup",
            );
        }
        Ok(DisplayName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Text a person reads, without control characters (line breaks allowed when `multiline`),
/// bidirectional overrides and isolates, zero-width characters, or `<` `>`.
pub fn plain_text_lines(text: &str, multiline: bool) -> bool {
    text.chars().all(|c| {
        let line_break = multiline && matches!(c, '\n' | '\r' | '\t');
        let invisible = matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
        line_break || !(c.is_control() || invisible || matches!(c, '<' | '>'))
    })
}

fn plain_text(text: &str) -> bool {
    plain_text_lines(text, false)
}

/// A mainland mobile number as the SMS gateway takes it: 11 digits starting with 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(mobile: &str) -> Result<Mobile, &'static str> {
        let mobile = mobile.trim();
        if mobile.len() == 11
            && mobile.starts_with('1')
            && mobile.chars().all(|c| c.is_ascii_digit())
        {
            Ok(Mobile(mobile.to_string()))
        } else {
            Err("the mobile number must be 11 digits starting with 1")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address with one @ and a dot in the domain; the mail itself proves the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(email: &str) -> Result<Email, &'static str> {
        let email = email.trim();
        match email.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !email.contains(char::is_whitespace)
                    && email.len() <= 254 =>
            {
                Ok(Email(email.to_string()))
            }
            _ => Err("the e-mail address is not valid"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ID number shown to people who do not need all of it: first 3 and last 4 characters.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// The check character GB 11643-1999 ends an 18-character citizen number (公民身份号码) with,
/// from its first 17 digits: the digits weighted by 2^(17-i) mod 11, summed mod 11, mapped to
/// `10X98765432`. None unless `first17` is 17 ASCII digits.
pub fn citizen_check_character(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    Some(b"10X98765432"[(sum % 11) as usize] as char)
}

/// Whether `number` is 18 characters whose last is the check character of the first 17.
pub fn citizen_number_valid(number: &str) -> bool {
    number.len() == 18
        && number.is_char_boundary(17)
        && citizen_check_character(&number[..17]) == number[17..].chars().next()
}

/// A mobile number masked for logs and lists: 138****1234.
pub fn mask_mobile(mobile: &str) -> String {
    if mobile.len() == 11 {
        format!("{}****{}", &mobile[..3], &mobile[7..])
    } else {
        "*".repeat(mobile.len())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn citizen_numbers_are_checked_by_gb_11643() {
        // The standard's own example, and one ending in X.
        assert!(super::citizen_number_valid("11010519491231002X"));
        assert!(super::citizen_number_valid("440524188001010014"));
        assert!(!super::citizen_number_valid("440524188001010015"));
        assert!(!super::citizen_number_valid("44052418800101001"));
        assert!(!super::citizen_number_valid("4405241880010100一4"));
        assert_eq!(
            super::citizen_check_character("11010519491231002"),
            Some('X')
        );
    }

    #[test]
    fn staff_usernames_and_names_are_plain() {
        assert!(StaffUsername::parse("wang.li-2").is_ok());
        for bad in ["", "a", "-x", "王审核", "a b", "x\0y", &"a".repeat(33)] {
            assert!(StaffUsername::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(DisplayName::parse(" 王审核 ").unwrap().as_str(), "王审核");
        for bad in [
            "",
            "a\u{202E}b",
            "<b>x</b>",
            "x\0",
            "tab\tin",
            &"名".repeat(65),
        ] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(plain_text_lines("第一行\n第二行", true));
        assert!(!plain_text_lines("第一行\n第二行", false));
    }
    use super::*;
    use time::macros::datetime;

    #[test]
    fn window_is_open_between_its_ends() {
        let (o, c) = (
            datetime!(2026-02-14 0:00 UTC),
            datetime!(2026-03-20 0:00 UTC),
        );
        assert_eq!(
            window_state(o, c, datetime!(2026-02-13 23:59 UTC)),
            WindowState::NotYetOpen
        );
        assert_eq!(window_state(o, c, o), WindowState::Open);
        assert_eq!(window_state(o, c, c), WindowState::Closed);
    }

    #[test]
    fn locked_materials_and_closed_windows_refuse_changes() {
        assert_eq!(
            check_upload(WindowState::Open, MaterialState::Submitted, 0, 2),
            Err(ChangeRefusal::Locked)
        );
        assert_eq!(
            check_upload(WindowState::Open, MaterialState::Approved, 0, 2),
            Err(ChangeRefusal::Locked)
        );
        assert_eq!(
            check_upload(WindowState::Closed, MaterialState::Returned, 0, 2),
            Err(ChangeRefusal::WindowClosed)
        );
        assert_eq!(
            check_upload(WindowState::Open, MaterialState::Open, 2, 2),
            Err(ChangeRefusal::CountReached { max: 2 })
        );
        assert_eq!(
            check_upload(WindowState::Open, MaterialState::Returned, 1, 2),
            Ok(())
        );
        assert_eq!(check_delete(WindowState::Open, MaterialState::Open), Ok(()));
    }

    #[test]
    fn submit_names_every_missing_required_category() {
        let m = |category, required, images, min_images| MaterialSummary {
            category,
            required,
            images,
            min_images,
        };
        let materials = [
            m("id_card", true, 1, 2),
            m("diploma", true, 0, 1),
            m("practice", false, 0, 1),
            m("degree", true, 1, 1),
        ];
        assert_eq!(
            check_submit(WindowState::Open, DossierState::Draft, &materials),
            Err(SubmitRefusal::Missing(vec![
                "id_card".into(),
                "diploma".into()
            ]))
        );
        assert_eq!(
            check_submit(WindowState::Open, DossierState::Submitted, &[]),
            Err(SubmitRefusal::NothingUnlocked)
        );
        assert_eq!(
            check_submit(
                WindowState::Open,
                DossierState::Returned,
                &[m("id_card", true, 2, 2)]
            ),
            Ok(())
        );
    }

    #[test]
    fn conditional_requirement_follows_the_candidate() {
        let cond = Condition {
            attribute: "exam_category".into(),
            any_of: vec!["临床执业医师".into()],
        };
        let mut a = CandidateAttributes::new();
        assert!(!required_for(Requirement::Conditional, Some(&cond), &a));
        a.insert("exam_category".into(), "临床执业医师".into());
        assert!(required_for(Requirement::Conditional, Some(&cond), &a));
        assert!(required_for(Requirement::Required, None, &a));
    }

    #[test]
    fn password_rules_of_the_activation_page() {
        assert!(Password::parse("abc12345").is_ok());
        assert!(Password::parse("Abc1234567890123456x").is_ok());
        assert!(Password::parse("abc1234").is_err());
        assert!(Password::parse("abcdefgh").is_err());
        assert!(Password::parse("12345678").is_err());
        assert!(Password::parse("abc 12345").is_err());
        assert!(Password::parse("abc1234567890123456xy").is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(mask_id_number("110101199003091234"), "110***********1234");
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        assert!(Mobile::parse("13812345678").is_ok() && Mobile::parse("23812345678").is_err());
        assert!(Email::parse("a@b.cn").is_ok() && Email::parse("a@b").is_err());
    }
}
pub mod review;
