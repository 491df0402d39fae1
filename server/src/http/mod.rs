//! The HTTP surface: the candidate API (`candidate`), the staff API (`staff`), and what both
//! share: credentials' checks, the request's address, the bodies and answers common to both.
//! Handlers parse and authenticate, then hand over to the use cases; no SQL here.
pub mod candidate;
pub mod staff;

use dossier_core::api::ErrorCode;
use poem::http::{Method, header};
use poem::{Body, Request};
use poem_openapi::payload::Binary;
use poem_openapi::{ApiRequest, ApiResponse, OpenApiService};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::state::AppState;

/// Where a request came from, for the sign-in throttle and the audit log: the connection's
/// address, or behind a reverse proxy the configured header's (`auth.client_ip_header`; of
/// `X-Forwarded-For` the last entry, the one the proxy appended).
pub(crate) fn remote_ip(req: &Request) -> Option<String> {
    let header = req
        .data::<AppState>()
        .and_then(|s| s.auth.settings().client_ip_header.as_deref());
    if let Some(name) = header
        && let Some(value) = req.headers().get(name).and_then(|v| v.to_str().ok())
        && let Some(ip) = value
            .rsplit(',')
            .next()
            .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
    {
        return Some(ip.to_string());
    }
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string())
}

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The app's state, for the security schemes' checkers (candidates' and staff's).
pub(crate) fn state(req: &Request) -> poem::Result<&AppState> {
    req.data::<AppState>()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "no state").into_poem())
}

/// A request shows one kind of credentials: a bearer token (the apps) or the session cookie
/// (the page), never both; a request with both is refused whatever either is worth, so a
/// forged or stale one is never ignored because the other passed.
pub(crate) fn one_kind_of_credentials(req: &Request, cookie: &str) -> poem::Result<()> {
    let bearer = req.headers().contains_key(header::AUTHORIZATION);
    let has_cookie = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim().split('=').next() == Some(cookie));
    if bearer && has_cookie {
        return Err(refuse_credentials(
            req,
            ApiError::new(
                ErrorCode::Unauthorized,
                "send either the access token or the session cookie, not both",
            ),
        ));
    }
    Ok(())
}

/// A refusal of the credentials shown, noted for the edge (see `CredentialRefusal`).
pub(crate) fn refuse_credentials(req: &Request, err: ApiError) -> poem::Error {
    crate::edge::CredentialRefusal::note(req, &err);
    err.into_poem()
}

/// A cookie session's CSRF token as sent, and whether the request changes anything (and so must
/// carry it). For candidates' and staff's cookies alike.
pub(crate) fn csrf_of(req: &Request) -> (Option<&str>, bool) {
    let csrf = req
        .headers()
        .get(dossier_core::api::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    let state_change = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    (csrf, state_change)
}

#[derive(ApiResponse)]
pub(crate) enum NoContent {
    #[oai(status = 204)]
    Done,
}

/// An image: the bytes themselves (JPEG or PNG, decided by content).
#[derive(ApiRequest)]
pub(crate) enum PhotoBody {
    #[oai(content_type = "image/jpeg")]
    Jpeg(Binary<Body>),
    #[oai(content_type = "image/png")]
    Png(Binary<Body>),
    #[oai(content_type = "application/octet-stream")]
    Octets(Binary<Body>),
}

impl PhotoBody {
    pub(crate) fn into_body(self) -> Body {
        match self {
            PhotoBody::Jpeg(b) | PhotoBody::Png(b) | PhotoBody::Octets(b) => b.0,
        }
    }
}

/// A stored image as its own type: JPEG or PNG.
#[derive(poem_openapi::ResponseContent)]
pub(crate) enum ImageContent {
    #[oai(content_type = "image/jpeg")]
    Jpeg(Binary<Vec<u8>>),
    #[oai(content_type = "image/png")]
    Png(Binary<Vec<u8>>),
}

#[derive(ApiResponse)]
pub(crate) enum ImageBytes {
    /// The image (to its owner and the reviewers in scope; examples to anyone).
    #[oai(status = 200)]
    Ok(
        ImageContent,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "X-Content-Type-Options")] String,
    ),
}

impl ImageBytes {
    /// The bytes with the content type they were stored with, and how they may be cached.
    pub(crate) fn new(bytes: Vec<u8>, content_type: &str, cache_control: &str) -> ImageBytes {
        let content = if content_type == "image/png" {
            ImageContent::Png(Binary(bytes))
        } else {
            ImageContent::Jpeg(Binary(bytes))
        };
        ImageBytes::Ok(content, cache_control.into(), "nosniff".into())
    }
}

/// Every API of the server, candidates' and staff's, as one OpenAPI service.
pub type Apis = (
    candidate::AuthApi,
    candidate::DossierApi,
    candidate::MessagesApi,
    candidate::ProfileApi,
    staff::StaffApi,
    staff::ReviewApi,
    staff::AdminApi,
);

pub fn apis() -> Apis {
    (
        candidate::AuthApi,
        candidate::DossierApi,
        candidate::MessagesApi,
        candidate::ProfileApi,
        staff::StaffApi,
        staff::ReviewApi,
        staff::AdminApi,
    )
}

/// The OpenAPI service of every API; also used to write `docs/openapi.json`.
pub fn openapi_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(apis(), "Dossier", env!("CARGO_PKG_VERSION"))
        .description("Dossier's API: for candidates, entry, activation, the materials page, uploads, submit and messages; for reviewers and district administrators, sign-in with a second factor, the review queues, claims, two-stage decisions, windows, publishing and exports.")
}
