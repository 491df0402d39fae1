//! Helpers shared by the end-to-end tests: the real server on a free port with the demo district,
//! candidates entered through the real ticket and activation flow, and photos made by core's
//! real pipeline.
use std::sync::Arc;

use dossier_core::api::ActivationRequest;
use dossier_core::client::{Client, Entry, MemoryTokenStore};
use dossier_core::photo::{PhotoSource, PrepareOptions, prepare};
use dossier_server::auth::Auth;
use dossier_server::storage;
use dossier_server::{AppState, Application, Settings, demo};
use time::{Duration, OffsetDateTime};

pub use dossier_server::demo::CANDIDATES;

/// The password every test candidate activates with.
pub const PASSWORD: &str = "Passw0rd2026";

pub struct TestServer {
    pub base: String,
    pub port: u16,
    pub state: AppState,
    pub data: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn settings_for(dir: &std::path::Path) -> Settings {
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        ..Settings::default()
    };
    settings.sweep_interval_secs = 3600;
    settings
}

impl TestServer {
    /// Start the real server on 127.0.0.1:0 with the demo district seeded.
    pub async fn start() -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let settings = settings_for(data.path());
        let app = Application::build(settings).await.expect("server builds");
        let state = app.state().clone();
        demo::seed(&state.db, OffsetDateTime::now_utc()).expect("demo seeded");
        let port = app.port();
        let task = tokio::spawn(async move {
            app.run_until_stopped().await.expect("server runs");
        });
        TestServer {
            base: format!("http://127.0.0.1:{port}"),
            port,
            state,
            data,
            task,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base, Arc::new(MemoryTokenStore::default())).expect("client")
    }

    /// A ticket as the registration system would issue it.
    pub fn ticket(&self, username: &str, lifetime: Duration) -> String {
        let secret = self
            .state
            .db
            .blocking_write(|tx| storage::district(tx, demo::DISTRICT))
            .unwrap()
            .ticket_secret;
        Auth::issue_ticket(username, &secret, OffsetDateTime::now_utc(), lifetime)
    }

    /// Enter as a demo candidate through ticket and activation; returns a signed-in client.
    pub async fn activated(&self, username: &str) -> Client {
        let client = self.client();
        match client
            .enter_with_ticket(&self.ticket(username, Duration::minutes(5)))
            .await
            .expect("ticket accepted")
        {
            Entry::Activate(needed) => {
                client
                    .activate(activation(&needed.activation_token))
                    .await
                    .expect("activation");
            }
            Entry::SignedIn(_) => {}
        }
        client
    }

    /// Sign in with a plain HTTP request and return the answer as JSON, for tests that hold the
    /// tokens themselves or send raw requests.
    pub async fn raw_login(&self, username: &str, password: &str) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .expect("sign-in answered")
            .json()
            .await
            .expect("sign-in JSON")
    }

    /// Move the demo district's upload window.
    pub fn set_window(&self, opens: OffsetDateTime, closes: OffsetDateTime) {
        self.state
            .db
            .blocking_write(|tx| storage::set_upload_window(tx, demo::DISTRICT, opens, closes))
            .unwrap();
    }

    /// One number from the database, for assertions about what is stored.
    pub fn scalar(&self, sql: &str, param: &str) -> Option<i64> {
        self.state
            .db
            .blocking_write(|tx| {
                let mut stmt = tx.prepare(sql)?;
                let n = if sql.contains("?1") {
                    stmt.query_row([param], |r| r.get(0))
                } else {
                    stmt.query_row([], |r| r.get(0))
                };
                n.map_err(storage::StorageError::from)
            })
            .unwrap()
    }

    pub fn candidate_id(&self, username: &str) -> uuid::Uuid {
        self.state
            .db
            .blocking_write(|tx| storage::candidate_by_username(tx, username))
            .unwrap()
            .id
    }
}

pub fn activation(token: &str) -> ActivationRequest {
    ActivationRequest {
        activation_token: token.into(),
        password: PASSWORD.into(),
        password_confirm: PASSWORD.into(),
        security_question: "我的出生地？".into(),
        security_answer: "北京".into(),
        pledge_truthfulness: true,
        pledge_discipline: true,
        mode: None,
    }
}

/// A small, distinct, upload-ready JPEG made by core's pipeline from a generated document.
pub fn photo(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(480, 320, |x, y| {
        let stroke = (y / 7 + seed) % 5 == 0 && (x / 4 + y / 29 + seed) % 6 != 0;
        let v = if stroke {
            25 + (seed % 40) as u8
        } else {
            230 - ((x * 7 + y * 3 + seed) % 13) as u8
        };
        image::Rgb([v, v, v.saturating_sub((seed % 9) as u8)])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    prepare(PhotoSource::Bytes(&png), &PrepareOptions::default())
        .expect("prepared")
        .jpeg
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
