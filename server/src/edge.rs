//! What every request meets before and after its handler, in one place: its body bounded by its
//! type before anyone reads it, and every refusal (ours, poem's extractors', the router's, a
//! panic's) answered as the documented JSON `ErrorBody` with a `code`, never as plain text.
use std::sync::Arc;

use dossier_core::api::{ErrorBody, ErrorCode, IDEMPOTENCY_KEY_HEADER};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response};

use crate::error::ApiError;
use crate::ops::LimitSettings;

/// What the OpenAPI document says, enforced where poem-openapi is lenient: the methods of each
/// path (for the `Allow` header of 405), and the JSON types of request bodies (poem-openapi
/// reads the number 123 or `true` where a string is documented as the string "123").
#[derive(Debug, Default)]
pub struct Contract {
    operations: Vec<Operation>,
    schemas: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug)]
struct Operation {
    segments: Vec<String>,
    method: String,
    body: Option<serde_json::Value>,
}

impl Contract {
    pub fn from_spec(spec_json: &str) -> Contract {
        let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
        let mut operations = Vec::new();
        if let Some(map) = spec.get("paths").and_then(|p| p.as_object()) {
            for (path, ops) in map {
                for (method, op) in ops.as_object().into_iter().flatten() {
                    let body = op
                        .pointer("/requestBody/content")
                        .and_then(|c| c.as_object())
                        .and_then(|c| c.iter().find(|(ty, _)| ty.starts_with("application/json")))
                        .and_then(|(_, media)| media.get("schema").cloned());
                    operations.push(Operation {
                        segments: path.split('/').map(String::from).collect(),
                        method: method.to_ascii_uppercase(),
                        body,
                    });
                }
            }
        }
        let schemas = spec
            .pointer("/components/schemas")
            .and_then(|s| s.as_object())
            .cloned()
            .unwrap_or_default();
        Contract {
            operations,
            schemas,
        }
    }

    fn matching<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Operation> + 'a {
        let given: Vec<&str> = path.split('/').collect();
        self.operations.iter().filter(move |op| {
            op.segments.len() == given.len()
                && op
                    .segments
                    .iter()
                    .zip(&given)
                    .all(|(s, g)| s.starts_with('{') || s == g)
        })
    }

    /// The methods the path takes, if it is one of the API's.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let mut methods: Vec<&str> = self.matching(path).map(|op| op.method.as_str()).collect();
        methods.sort_unstable();
        (!methods.is_empty()).then(|| methods.join(", "))
    }

    /// Whether a JSON body has the documented types (fields not documented are left alone;
    /// their absence or lengths are poem-openapi's to check). The error names the field.
    pub fn check_body(&self, method: &str, path: &str, body: &[u8]) -> Result<(), String> {
        let Some(schema) = self
            .matching(path)
            .find(|op| op.method == method)
            .and_then(|op| op.body.as_ref())
        else {
            return Ok(());
        };
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => self.check(schema, &value, "body", 0),
            Err(_) => Ok(()), // not JSON: poem-openapi says so
        }
    }

    fn check(
        &self,
        schema: &serde_json::Value,
        value: &serde_json::Value,
        at: &str,
        depth: usize,
    ) -> Result<(), String> {
        use serde_json::Value;
        if depth > 16 {
            return Ok(());
        }
        if let Some(name) = schema
            .get("$ref")
            .and_then(|r| r.as_str())
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            return match self.schemas.get(name) {
                Some(target) => self.check(target, value, at, depth + 1),
                None => Ok(()),
            };
        }
        for part in schema
            .get("allOf")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            self.check(part, value, at, depth + 1)?;
        }
        let Some(ty) = schema.get("type").and_then(|t| t.as_str()) else {
            return Ok(());
        };
        let fits = match (ty, value) {
            (_, Value::Null) => true, // optional fields may be null; required ones are checked later
            ("string", Value::String(_)) | ("boolean", Value::Bool(_)) => true,
            ("integer", Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            ("number", Value::Number(_)) => true,
            ("array", Value::Array(items)) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(item, v, &format!("{at}[{i}]"), depth + 1)?;
                    }
                }
                true
            }
            ("object", Value::Object(fields)) => {
                if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
                    for (name, v) in fields {
                        if let Some(prop) = props.get(name) {
                            self.check(prop, v, &format!("{at}.{name}"), depth + 1)?;
                        }
                    }
                }
                true
            }
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(format!("{at}: expected {ty}"))
        }
    }
}

/// The refusal of the credentials a request actually showed. poem-openapi tries each way of
/// signing in (cookie, then token) and answers the last one's error, which for a request that
/// showed only the other is a bare "no credentials"; the checkers note their own refusal here
/// (`session_expired`, a missing CSRF token's 403) and the edge answers that one instead.
#[derive(Clone, Default)]
pub struct CredentialRefusal(Arc<std::sync::Mutex<Option<ErrorBody>>>);

impl CredentialRefusal {
    /// Note `err` as the refusal of the credentials `req` showed.
    pub fn note(req: &Request, err: &ApiError) {
        if let Some(cell) = req.extensions().get::<CredentialRefusal>()
            && let Ok(mut slot) = cell.0.lock()
        {
            *slot = Some(err.body().clone());
        }
    }

    fn take(&self) -> Option<ErrorBody> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// The middleware: bound the body, call the endpoint, word every refusal as JSON.
pub struct Edge {
    limits: LimitSettings,
    contract: Arc<Contract>,
}

impl Edge {
    pub fn new(limits: LimitSettings, contract: Contract) -> Edge {
        Edge {
            limits,
            contract: Arc::new(contract),
        }
    }
}

impl<E: Endpoint> Middleware<E> for Edge {
    type Output = EdgeEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        EdgeEndpoint {
            inner: ep,
            limits: self.limits.clone(),
            contract: self.contract.clone(),
        }
    }
}

pub struct EdgeEndpoint<E> {
    inner: E,
    limits: LimitSettings,
    contract: Arc<Contract>,
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
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than {limit} bytes"),
    )
}

/// A body that did not arrive whole: too slow (the connection guard closed it) or cut short.
/// Nothing was stored; the phone's queue sends it again.
pub fn incomplete(err: &std::io::Error) -> ApiError {
    // The connection guard's close is an io::Error of kind TimedOut ("connection closed:
    // too_slow"), which reaches us wrapped by hyper: look along the chain of causes.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut slow = false;
    while let Some(e) = cause {
        slow |= e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            || e.to_string().contains("too_slow");
        cause = e.source();
    }
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
    if let Some(poem::error::ReadBodyError::Io(io)) =
        err.downcast_ref::<poem::error::ReadBodyError>()
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
        let image = is_image(req);
        let limit = if image {
            self.limits.image_body_bytes
        } else {
            self.limits.json_body_bytes
        };
        if declared_length(req).is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        if !image && !matches!(*req.method(), Method::GET | Method::HEAD) {
            let bytes = read_body(req.take_body(), limit).await?;
            self.contract
                .check_body(req.method().as_str(), req.uri().path(), &bytes)
                .map_err(|why| ApiError::new(ErrorCode::BadRequest, why))?;
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
            && let Some(allow) = self.contract.allowed(path)
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
        let credentials = CredentialRefusal::default();
        req.extensions_mut().insert(credentials.clone());
        let resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) if err.is_from_response() || !api => err.into_response(),
            Err(err) if err.is::<poem_openapi::error::AuthorizationError>() => {
                let refusal = credentials
                    .take()
                    .map(ApiError::from_body)
                    .unwrap_or_else(|| refusal_of(&err));
                return Ok(self.word(&path, refusal));
            }
            Err(err) => return Ok(self.word(&path, refusal_of(&err))),
        };
        // Answers made as plain text further in (a panic caught, the router's 404 or 405):
        // the API's are JSON too; the pages' own 404 stays a page's.
        let status = resp.status();
        if api && (status.is_client_error() || status.is_server_error()) && !is_json(&resp) {
            let err = poem::Error::from_status(status);
            return Ok(self.word(&path, refusal_of(&err)));
        }
        if status == StatusCode::METHOD_NOT_ALLOWED && !resp.headers().contains_key(header::ALLOW) {
            let mut resp = resp;
            if let Some(allow) = self.contract.allowed(&path)
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

    const SPEC: &str = r##"{
        "paths": {
            "/api/v1/images/{id}": {"get": {}, "delete": {}},
            "/api/v1/push-tokens": {"post": {"requestBody": {"content": {
                "application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/P"}}}}}}
        },
        "components": {"schemas": {"P": {"type": "object", "properties": {
            "token": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}}}}}}
    }"##;

    #[test]
    fn allow_lists_the_methods_of_a_templated_path() {
        let contract = Contract::from_spec(SPEC);
        assert_eq!(
            contract.allowed("/api/v1/images/0b6f").as_deref(),
            Some("DELETE, GET")
        );
        assert_eq!(contract.allowed("/api/v1/nothing"), None);
    }

    #[test]
    fn json_types_are_held_to_the_document() {
        let contract = Contract::from_spec(SPEC);
        let check =
            |body: &str| contract.check_body("POST", "/api/v1/push-tokens", body.as_bytes());
        assert!(check(r#"{"token": "abc", "tags": ["x"]}"#).is_ok());
        assert_eq!(
            check(r#"{"token": 123}"#),
            Err("body.token: expected string".into())
        );
        assert_eq!(
            check(r#"{"token": true}"#),
            Err("body.token: expected string".into())
        );
        assert_eq!(
            check(r#"{"token": "a", "tags": ["x", 1]}"#),
            Err("body.tags[1]: expected string".into())
        );
        assert!(check("not json").is_ok(), "left to the parser");
    }
}
