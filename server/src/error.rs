//! Every refusal the API gives: an HTTP status and an `ErrorBody` whose `code` a program acts on.
//! The status follows from the code, in one place (`status_of`).
use dossier_core::api::{ErrorBody, ErrorCode};
use dossier_core::domain::{ChangeRefusal, SubmitRefusal};
use dossier_core::photo::PhotoError;
use poem::http::StatusCode;
use poem_openapi::{ApiResponse, payload::Json};

use crate::storage::StorageError;

#[derive(ApiResponse, Debug)]
#[oai(bad_request_handler = "bad_request")]
pub enum ApiError {
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    #[oai(status = 408)]
    RequestTimeout(Json<ErrorBody>),
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    #[oai(status = 411)]
    LengthRequired(Json<ErrorBody>),
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] String),
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] String),
}

/// poem-openapi's own refusals (a body or parameter that does not parse or breaks a documented
/// limit) in the same JSON as every other refusal.
fn bad_request(err: poem::Error) -> ApiError {
    crate::edge::refusal_of(&err)
}

/// The HTTP status of each error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        // The request does not parse or breaks the documented schema.
        BadRequest | IdempotencyKeyRequired => StatusCode::BAD_REQUEST,
        Unauthorized | SessionExpired | TicketInvalid | TicketExpired | TicketUsed
        | TotpRequired => StatusCode::UNAUTHORIZED,
        Forbidden | WindowNotOpen | WindowClosed => StatusCode::FORBIDDEN,
        NotFound | UnknownCategory => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        BodyIncomplete => StatusCode::REQUEST_TIMEOUT,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Locked | CountReached | SlotTaken | NothingToSubmit | AlreadyActivated | AlreadyExists
        | ClaimedByOther | ClaimRequired | StaleVersion | NotReviewable => StatusCode::CONFLICT,
        LengthRequired => StatusCode::LENGTH_REQUIRED,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        // Well-formed, but a rule of the domain refuses it.
        MissingRequired | IdempotencyConflict | InvalidPhoto | DecisionRules | InvalidField
        | PasswordRules | PledgesRequired | InvalidProfile => StatusCode::UNPROCESSABLE_ENTITY,
        Throttled => StatusCode::TOO_MANY_REQUESTS,
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::from_body(ErrorBody::new(code, message))
    }

    pub fn from_body(body: ErrorBody) -> ApiError {
        let retry = body.retry_after_secs.unwrap_or(1).to_string();
        let status = status_of(body.code);
        let json = Json(body);
        match status {
            StatusCode::BAD_REQUEST => ApiError::BadRequest(json),
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(json),
            StatusCode::FORBIDDEN => ApiError::Forbidden(json),
            StatusCode::NOT_FOUND => ApiError::NotFound(json),
            StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout(json),
            StatusCode::CONFLICT => ApiError::Conflict(json),
            StatusCode::LENGTH_REQUIRED => ApiError::LengthRequired(json),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(json),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(json),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(json),
            StatusCode::TOO_MANY_REQUESTS => ApiError::TooManyRequests(json, retry),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(json, retry),
            _ => ApiError::Internal(json),
        }
    }

    pub fn body(&self) -> &ErrorBody {
        match self {
            ApiError::BadRequest(b)
            | ApiError::Unauthorized(b)
            | ApiError::Forbidden(b)
            | ApiError::NotFound(b)
            | ApiError::RequestTimeout(b)
            | ApiError::Conflict(b)
            | ApiError::LengthRequired(b)
            | ApiError::PayloadTooLarge(b)
            | ApiError::UnsupportedMediaType(b)
            | ApiError::Unprocessable(b)
            | ApiError::TooManyRequests(b, _)
            | ApiError::Internal(b)
            | ApiError::Unavailable(b, _) => &b.0,
        }
    }

    /// A refusal with its finer reason in `detail` (a key the pages word, e.g. `wrong_password`).
    pub fn detailed(code: ErrorCode, detail: &str, message: impl Into<String>) -> ApiError {
        let mut body = ErrorBody::new(code, message);
        body.detail = Some(detail.into());
        ApiError::from_body(body)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, "sign in again")
    }

    /// A well-formed field that a rule of the domain refuses: `invalid_field`, naming it.
    pub fn invalid_field(name: &str, message: impl Into<String>) -> ApiError {
        ApiError::detailed(ErrorCode::InvalidField, name, message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound, "not found")
    }

    pub fn throttled(retry_after_secs: u64) -> ApiError {
        let mut body = ErrorBody::new(
            ErrorCode::Throttled,
            "too many failed attempts; wait and try again",
        );
        body.retry_after_secs = Some(retry_after_secs);
        ApiError::from_body(body)
    }

    /// As a poem error, for extractors (security schemes) that cannot return an `ApiResponse`.
    pub fn into_poem(self) -> poem::Error {
        use poem::IntoResponse;
        let status = status_of(self.body().code);
        let body = serde_json::to_vec(self.body()).unwrap_or_default();
        let response = poem::Response::builder()
            .status(status)
            .content_type("application/json; charset=utf-8")
            .body(body)
            .into_response();
        poem::Error::from_response(response)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match e {
            StorageError::NotFound => ApiError::not_found(),
            StorageError::Busy { retry_after_secs } => {
                let mut body = ErrorBody::new(
                    ErrorCode::Unavailable,
                    "the server is busy; try again shortly",
                );
                body.retry_after_secs = Some(retry_after_secs);
                ApiError::from_body(body)
            }
            // The disk is full or failing: nothing was stored (a blob is renamed into place only
            // when synced, a row committed only after its blob). The phone keeps the photo and
            // tries again; reads go on.
            other if other.is_disk_trouble() => {
                tracing::error!(error = %other, "storage unavailable");
                let mut body = ErrorBody::new(
                    ErrorCode::Unavailable,
                    "the server cannot store files right now; your photo is kept and sent again later",
                );
                body.retry_after_secs = Some(30);
                ApiError::from_body(body)
            }
            other => {
                tracing::error!(error = %other, "storage failed");
                ApiError::new(
                    ErrorCode::Internal,
                    "the server could not complete the request; try again",
                )
            }
        }
    }
}

impl From<ChangeRefusal> for ApiError {
    fn from(r: ChangeRefusal) -> ApiError {
        let code = match r {
            ChangeRefusal::WindowNotOpen => ErrorCode::WindowNotOpen,
            ChangeRefusal::WindowClosed => ErrorCode::WindowClosed,
            ChangeRefusal::Locked => ErrorCode::Locked,
            ChangeRefusal::CountReached { .. } => ErrorCode::CountReached,
        };
        ApiError::new(code, r.to_string())
    }
}

impl From<SubmitRefusal> for ApiError {
    fn from(r: SubmitRefusal) -> ApiError {
        match r {
            SubmitRefusal::Window(w) => w.into(),
            SubmitRefusal::NothingUnlocked => {
                ApiError::new(ErrorCode::NothingToSubmit, r.to_string())
            }
            SubmitRefusal::Missing(ref missing) => {
                let mut body = ErrorBody::new(ErrorCode::MissingRequired, r.to_string());
                body.missing = missing.clone();
                ApiError::from_body(body)
            }
        }
    }
}

impl From<PhotoError> for ApiError {
    fn from(e: PhotoError) -> ApiError {
        let mut body = ErrorBody::new(ErrorCode::InvalidPhoto, e.to_string());
        body.detail = Some(e.code().to_string());
        let mut err = ApiError::from_body(body);
        // Not an image, or not one we accept: 415 says "wrong type" to any HTTP client.
        if matches!(
            e,
            PhotoError::NotAnImage | PhotoError::UnsupportedFormat { .. }
        ) && let ApiError::Unprocessable(json) = err
        {
            err = ApiError::UnsupportedMediaType(json);
        }
        err
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
