//! The wire types have two JSON codecs: serde (the client) and poem-openapi (the server). They
//! must write the same JSON, or the client and server drift apart silently.
use dossier_core::api::*;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use time::macros::datetime;
use uuid::Uuid;

fn same<
    T: serde::Serialize
        + serde::de::DeserializeOwned
        + ToJSON
        + ParseFromJSON
        + PartialEq
        + std::fmt::Debug,
>(
    value: T,
) {
    let by_serde = serde_json::to_value(&value).unwrap();
    let by_poem = value.to_json().unwrap();
    assert_eq!(by_serde, by_poem);
    assert_eq!(T::parse_from_json(Some(by_serde.clone())).unwrap(), value);
    assert_eq!(serde_json::from_value::<T>(by_poem).unwrap(), value);
}

#[test]
fn serde_and_poem_openapi_write_the_same_json() {
    let at = datetime!(2027-03-01 08:30:00.123 +00:00);
    same(ImageView {
        id: Uuid::new_v4(),
        slot: 1,
        url: "/api/v1/images/x".into(),
        thumbnail_url: "/api/v1/images/x/thumbnail".into(),
        content_type: "image/jpeg".into(),
        bytes: 150_000,
        width: 2016,
        height: 1512,
        sha256: "ab".repeat(32),
        uploaded_at: at,
        locked: true,
        upload_key: Some(Uuid::new_v4()),
        findings: Some(ImageFindings {
            state: AnalysisState::Done,
            side: Some(CardSide::Front),
            wrong_slot: true,
            roster_match: Some(RosterMatch::Mismatch),
            mismatched: vec!["number".into()],
            unread_reason: None,
            number_read: Some("110***********1234".into()),
            check_digit_ok: Some(true),
            name_read: Some("张明".into()),
            authority: None,
            valid_until: Some("长期".into()),
            expired: false,
            reused_in: vec![ReusedIn {
                candidate_id: Uuid::new_v4(),
                name: "李华".into(),
                exam_site: "西城考点".into(),
                category: "diploma".into(),
                image_id: Uuid::new_v4(),
            }],
        }),
    });
    same(ErrorBody {
        code: ErrorCode::MissingRequired,
        message: "m".into(),
        detail: None,
        missing: vec!["id_card".into()],
        retry_after_secs: None,
    });
    same(ErrorBody::new(ErrorCode::IdempotencyConflict, "x"));
    same(SessionGrant {
        access_token: Some("a".into()),
        access_expires_at: at,
        refresh_token: None,
        refresh_expires_at: Some(at),
        csrf_token: None,
        username: "u".into(),
        profile_incomplete: true,
    });
    same(MessageView {
        id: Uuid::new_v4(),
        kind: MessageKind::Returned,
        title: "t".into(),
        body: "b".into(),
        categories: vec![],
        created_at: at,
        read: false,
    });
    same(Category {
        code: "id_card".into(),
        name: "身份证明".into(),
        description: "d".into(),
        example_url: None,
        requirement: Requirement::Conditional,
        condition_text: Some("必传".into()),
        min_images: 2,
        max_images: 2,
        slot_labels: vec!["正面".into(), "反面".into()],
        document: DocumentKind::IdCard,
        subject: Subject::Person,
    });
}
