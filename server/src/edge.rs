//! What every request meets before and after its handler, in one place: its body bounded by its
//! type before anyone reads it, and every refusal (ours, poem's extractors', the router's, a
//! panic's) answered as the documented JSON `ErrorBody` with a `code`, never as plain text.
use std::sync::Arc;

use dossier_core::api::{ErrorBody, ErrorCode, IDEMPOTENCY_KEY_HEADER};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response};

use crate::error::ApiError;
use crate::ops::LimitSettings;

/// Methods per path template, read from the OpenAPI document, for the `Allow` header of 405.
#[derive(Debug, Default)]
pub struct AllowedMethods {
    paths: Vec<(Vec<String>, Vec<String>)>,
}

impl AllowedMethods {
    pub fn from_spec(spec_json: &str) -> AllowedMethods {
        let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
        let mut paths = Vec::new();
        if let Some(map) = spec.get("paths").and_then(|p| p.as_object()) {
            for (path, ops) in map {
                let segments = path.split('/').map(String::from).collect();
                let methods: Vec<String> = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                paths.push((segments, methods));
            }
        }
        AllowedMethods { paths }
    }

    /// The methods the path takes, if it is one of the API's.
    pub fn of(&self, path: &str) -> Option<String> {
        let given: Vec<&str> = path.split('/').collect();
        self.paths.iter().find_map(|(segments, methods)| {
            let same = segments.len() == given.len()
                && segments
                    .iter()
                    .zip(&given)
                    .all(|(s, g)| s.starts_with('{') || s == g);
            same.then(|| methods.join(", "))
        })
    }
}

/// The middleware: bound the body, call the endpoint, word every refusal as JSON.
pub struct Edge {
    limits: LimitSettings,
    allowed: Arc<AllowedMethods>,
}

impl Edge {
    pub fn new(limits: LimitSettings, allowed: AllowedMethods) -> Edge {
        Edge {
            limits,
            allowed: Arc::new(allowed),
        }
    }
}

impl<E: Endpoint> Middleware<E> for Edge {
    type Output = EdgeEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        EdgeEndpoint {
            inner: ep,
            limits: self.limits.clone(),
            allowed: self.allowed.clone(),
        }
    }
}

pub struct EdgeEndpoint<E> {
    inner: E,
    limits: LimitSettings,
    allowed: Arc<AllowedMethods>,
}

fn is_image(req: &Request) -> bool {
    let ty = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ty.starts_with("image/") || ty.starts_with("application/octet-stream")
}

fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// 413 for a body over `limit`.
pub fn too_large(limit: usize) -> ApiError {
    let mut body = ErrorBody::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than {limit} bytes"),
    );
    body.detail = Some(limit.to_string());
    ApiError::from_body(body)
}

/// A body that did not arrive whole: too slow (the connection guard closed it) or cut short.
/// Nothing was stored; the phone's queue sends it again.
pub fn incomplete(err: &std::io::Error) -> ApiError {
    let slow = err.kind() == std::io::ErrorKind::TimedOut || err.to_string().contains("too_slow");
    let mut body = ErrorBody::new(
        ErrorCode::BodyIncomplete,
        if slow {
            "the upload was too slow and was stopped; it is sent again"
        } else {
            "the upload stopped before its end; it is sent again"
        },
    );
    body.detail = Some(if slow { "too_slow" } else { "cut_short" }.into());
    body.retry_after_secs = Some(1);
    ApiError::from_body(body)
}

/// Read a body of at most `limit` bytes: 413 past it, `body_incomplete` if it stops or crawls.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    body.into_bytes_limit(limit).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => too_large(limit),
        poem::error::ReadBodyError::Io(io) => incomplete(&io),
        other => ApiError::new(ErrorCode::BadRequest, other.to_string()),
    })
}

/// The JSON refusal for an error raised by poem or poem-openapi rather than by a handler.
pub fn refusal_of(err: &poem::Error) -> ApiError {
    use poem_openapi::error::ParseParamError;
    let status = err.status();
    if let Some(param) = err.downcast_ref::<ParseParamError>()
        && param.name == IDEMPOTENCY_KEY_HEADER
    {
        return ApiError::new(
            ErrorCode::IdempotencyKeyRequired,
            format!("the {IDEMPOTENCY_KEY_HEADER} header must be a UUID"),
        );
    }
    if let Some(poem::error::ReadBodyError::Io(io)) = err.downcast_ref::<poem::error::ReadBodyError>()
    {
        return incomplete(io);
    }
    let (code, message) = match status {
        StatusCode::UNAUTHORIZED => (ErrorCode::Unauthorized, "sign in first".to_string()),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "not found".into()),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this method is not allowed here".into(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (ErrorCode::UnsupportedMediaType, err.to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, err.to_string()),
        StatusCode::SERVICE_UNAVAILABLE => (ErrorCode::Unavailable, err.to_string()),
        s if s.is_server_error() => (
            ErrorCode::Internal,
            "the server could not complete the request; try again".into(),
        ),
        _ => (ErrorCode::BadRequest, err.to_string()),
    };
    ApiError::new(code, message)
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

impl<E: Endpoint> EdgeEndpoint<E> {
    /// Refuse an over-long body unread (by its declared length) or while reading it (chunked).
    /// Images are left to their operation, which reads them against its own limit.
    async fn bound_body(&self, req: &mut Request) -> Result<(), ApiError> {
        let limit = if is_image(req) {
            self.limits.image_body_bytes
        } else {
            self.limits.json_body_bytes
        };
        if declared_length(req).is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        if !is_image(req) && !matches!(*req.method(), Method::GET | Method::HEAD) {
            let bytes = read_body(req.take_body(), limit).await?;
            req.set_body(bytes);
        }
        Ok(())
    }

    fn word(&self, path: &str, err: ApiError) -> Response {
        let status = crate::error::status_of(err.body().code);
        let mut resp = poem::Response::builder()
            .status(status)
            .content_type("application/json; charset=utf-8")
            .body(serde_json::to_vec(err.body()).unwrap_or_default());
        if let Some(secs) = err.body().retry_after_secs {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = self.allowed.of(path)
            && let Ok(value) = HeaderValue::from_str(&allow)
        {
            resp.headers_mut().insert(header::ALLOW, value);
        }
        resp
    }
}

impl<E: Endpoint> Endpoint for EdgeEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_string();
        let api = path.starts_with("/api/");
        if let Err(refusal) = self.bound_body(&mut req).await {
            return Ok(self.word(&path, refusal));
        }
        let resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) if err.is_from_response() || !api => err.into_response(),
            Err(err) => return Ok(self.word(&path, refusal_of(&err))),
        };
        // Answers made as plain text further in (a panic caught, the router's 404 or 405):
        // the API's are JSON too; the pages' own 404 stays a page's.
        let status = resp.status();
        if api && (status.is_client_error() || status.is_server_error()) && !is_json(&resp) {
            let err = poem::Error::from_status(status);
            return Ok(self.word(&path, refusal_of(&err)));
        }
        if status == StatusCode::METHOD_NOT_ALLOWED && !resp.headers().contains_key(header::ALLOW)
        {
            let mut resp = resp;
            if let Some(allow) = self.allowed.of(&path)
                && let Ok(value) = HeaderValue::from_str(&allow)
            {
                resp.headers_mut().insert(header::ALLOW, value);
            }
            return Ok(resp);
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_of_a_templated_path() {
        let spec = r#"{"paths":{"/api/v1/images/{id}":{"get":{},"delete":{}},"/api/v1/dossier":{"get":{}}}}"#;
        let allowed = AllowedMethods::from_spec(spec);
        assert_eq!(
            allowed.of("/api/v1/images/0b6f").as_deref(),
            Some("GET, DELETE, HEAD")
        );
        assert_eq!(allowed.of("/api/v1/dossier").as_deref(), Some("GET, HEAD"));
        assert_eq!(allowed.of("/api/v1/nothing"), None);
    }
}
