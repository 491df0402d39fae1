//! Helpers shared by the end-to-end tests: the real server on a free port with the demo district,
//! candidates entered through the real ticket and activation flow, and photos made by core's
//! real pipeline.
pub mod fake_providers;
pub mod object_store;
pub mod postgres_cluster;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use dossier_core::api::ActivationRequest;
use dossier_core::client::{Client, Entry, MemoryTokenStore};
use dossier_core::photo::{PhotoSource, PrepareOptions, prepare};
use dossier_server::auth::{Auth, hash_secret_blocking, normalise_answer};
use dossier_server::storage::{self, Activation, Db, RosterEntry, StorageError};
use dossier_server::{AppState, Application, Settings, demo, district};
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
    if let Some(url) = object_store::shared_blobs_url(dir) {
        settings.blobs.url = url;
    }
    if let Some(url) = postgres_cluster::shared_database_url(dir) {
        settings.database.url = url;
    }
    // Reading ID cards costs a second of a core per image: only the tests of it turn it on.
    settings.analysis.enabled = false;
    settings.analysis.line_model = line_model();
    settings
}

/// PP-OCR's line model, where `scripts/packages.sh` installs it (the tests do not run from the
/// workspace's root, where the default path points).
pub fn line_model() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/ch_PP-OCRv4_rec_infer.onnx"
    )
    .into()
}

impl TestServer {
    /// Start the real server on 127.0.0.1:0 with the demo district seeded.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// `start` with settings changed first (limits, the connection guard, ...).
    pub async fn start_with(change: impl FnOnce(&mut Settings)) -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let mut settings = settings_for(data.path());
        change(&mut settings);
        // The server's log, when a test is run to be looked into (`DOSSIER_TEST_LOG=warn`).
        if let Ok(filter) = std::env::var("DOSSIER_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
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
        http()
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
                if sql.contains("?1") {
                    tx.query_row(sql, [param], |r| r.get(0))
                } else {
                    tx.query_row(sql, [], |r| r.get(0))
                }
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
        let stroke = (y / 7 + seed).is_multiple_of(5) && !(x / 4 + y / 29 + seed).is_multiple_of(6);
        let v = if stroke {
            25 + (seed % 40) as u8
        } else {
            230 - ((x * 7 + y * 3 + seed) % 13) as u8
        };
        image::Rgb([v, v, v.saturating_sub((seed % 9) as u8)])
    });
    prepared(&img)
}

/// A drawn document through core's pipeline, as the app would send it.
fn prepared(img: &image::RgbImage) -> Vec<u8> {
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

/// Give the demo district's "other" category `slots` slots, so one phone can queue many photos.
pub fn widen_other(db: &Db, slots: u32) {
    let mut file = district::parse(demo::DISTRICT_FILE).expect("demo district parses");
    // Keep the window the demo seed opened.
    (file.upload_opens_at, file.upload_closes_at) = (None, None);
    for c in &mut file.categories {
        if c.code == "other" {
            c.max_images = slots;
        }
    }
    district::apply(db, "demo", &file, |c| {
        Ok(Some((demo::example_image(c.document), "image/png".into())))
    })
    .expect("district applied");
}

/// The username of the `i`th candidate made by `seed_activated`.
pub fn seeded_username(i: usize) -> String {
    format!("2026990000{i:03}")
}

/// A plain HTTP client for raw requests (rustls with ring, as core's client uses).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The mobile number of the `i`th candidate made by `seed_activated`.
pub fn seeded_mobile(i: usize) -> String {
    format!("1390000{i:04}")
}

/// A data directory with the demo district and `n` activated candidates (password `PASSWORD`),
/// for tests that run the server as a process.
pub fn seed_activated(dir: &Path, n: usize) -> Db {
    seed_activated_in(database_of(dir), n)
}

/// `seed_activated` into a database of the test's choosing.
pub fn seed_activated_in(db: Db, n: usize) -> Db {
    let now = OffsetDateTime::now_utc();
    demo::seed(&db, now).expect("demo seeded");
    let (password_hash, answer_hash) = (
        hash_secret_blocking(PASSWORD),
        hash_secret_blocking(&normalise_answer("北京")),
    );
    db.blocking_write(|tx| {
        for i in 0..n {
            let entry = RosterEntry {
                username: seeded_username(i),
                name: format!("考生{i}"),
                id_number: format!("1101011990010{i:05}"),
                exam_category: "临床执业医师".into(),
                district: demo::DISTRICT.into(),
                exam_site: "东城区考点".into(),
                mobile: Some(seeded_mobile(i)),
                attributes: Default::default(),
            };
            storage::upsert_roster_entry(tx, &entry)?;
            let c = storage::candidate_by_username(tx, &entry.username)?;
            let activation = Activation {
                password_hash: &password_hash,
                security_question: "?",
                security_answer_hash: &answer_hash,
                at: now,
            };
            storage::activate(tx, c.id, &activation)?;
        }
        Ok::<_, storage::StorageError>(())
    })
    .expect("candidates activated");
    db
}

/// The real server binary, run as a process so a test can SIGKILL it.
pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub port: u16,
    dir: PathBuf,
    /// Settings as `DOSSIER_*` variables, kept for restarts.
    env: Vec<(String, String)>,
}

impl ServerProcess {
    /// Start on a free port.
    pub fn start(dir: &Path) -> ServerProcess {
        Self::start_on(dir, 0)
    }

    /// Start on `port` (0: any free one); returns once it listens.
    pub fn start_on(dir: &Path, port: u16) -> ServerProcess {
        Self::start_with(dir, port, Vec::new())
    }

    /// Start with more settings, as `DOSSIER_*` environment variables.
    pub fn start_with(dir: &Path, port: u16, mut env: Vec<(String, String)>) -> ServerProcess {
        if let Some(url) = object_store::shared_blobs_url(dir)
            && !env.iter().any(|(k, _)| k == "DOSSIER_BLOBS__URL")
        {
            env.push(("DOSSIER_BLOBS__URL".into(), url));
        }
        if let Some(url) = postgres_cluster::shared_database_url(dir)
            && !env.iter().any(|(k, _)| k == "DOSSIER_DATABASE__URL")
        {
            env.push(("DOSSIER_DATABASE__URL".into(), url));
        }
        let mut child = Command::new(binary("dossier-test-server"))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("DOSSIER_DATA_DIR", dir)
            .env("DOSSIER_LISTEN", format!("127.0.0.1:{port}"))
            .env("DOSSIER_LOG", env_or(&env, "DOSSIER_LOG", "warn"))
            // Off unless a test asks: reading every document in the background competes for the
            // disk and the cores these tests measure (`assistance.rs` and the rush bench turn it
            // on, by `TestServer`'s settings and `DOSSIER_RUSH_ANALYSIS`).
            .env(
                "DOSSIER_ANALYSIS__ENABLED",
                env_or(&env, "DOSSIER_ANALYSIS__ENABLED", "false"),
            )
            .env(
                "DOSSIER_ANALYSIS__LINE_MODEL",
                env_or(&env, "DOSSIER_ANALYSIS__LINE_MODEL", &line_model()),
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("server starts");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("server printed its address")
                .expect("readable");
            if let Some(rest) = line.strip_prefix("Dossier listening on ") {
                break rest
                    .split_whitespace()
                    .next()
                    .expect("an address")
                    .to_string();
            }
        };
        // Keep draining stdout (the log goes there) into `server.log` in the data directory, so
        // the server never blocks on a full pipe and a test can read what it logged.
        let log_path = dir.join("server.log");
        std::thread::spawn(move || {
            use std::io::Write;
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .expect("log file");
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
            }
        });
        let port = base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        ServerProcess {
            child,
            base,
            port,
            dir: dir.to_path_buf(),
            env,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server has logged so far (every start in this data directory).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// SIGTERM, and wait for the process to exit; returns its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        // SAFETY: a signal to our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.child.wait().ok().and_then(|s| s.code())
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kill, stay down for `down`, and start again on the same port and data.
    pub fn restart(&mut self, down: std::time::Duration) {
        self.kill();
        std::thread::sleep(down);
        let (dir, port, env) = (self.dir.clone(), self.port, self.env.clone());
        *self = Self::start_with(&dir, port, env);
    }

    /// A look at the server's database, for assertions about what is stored.
    pub fn database(&self) -> Database {
        match self.env.iter().find(|(k, _)| k == "DOSSIER_DATABASE__URL") {
            Some((_, url)) => Database(Db::connect(url).expect("the database opens")),
            None => Database(database_of(&self.dir)),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn env_or(env: &[(String, String)], key: &str, default: &str) -> String {
    env.iter()
        .find(|(k, _)| k == key)
        .map_or(default.to_string(), |(_, v)| v.clone())
}

/// One of this package's binaries, which cargo builds beside the integration tests
/// (`target/<profile>/deps/<test>` → `target/<profile>/<name>`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join(name)
}

/// A free port on loopback (bound and released; good enough for a server started right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Make `command`'s process get SIGKILL when the thread that spawns it ends (a killed or
/// finished test leaves no helper server behind).
pub fn dies_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only prctl(2), which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// A noisy document photo drawn at `width` x `height`; at 1600 x 1100 it comes out of core's
/// pipeline at 100-200 KB, like a real one.
pub fn photo_of_size(seed: u32, width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let h = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ seed.wrapping_mul(97)) % 23;
        let stroke = (y / 9 + seed).is_multiple_of(4) && !(x / 5 + y / 31 + seed).is_multiple_of(5);
        let v = if stroke { 30 + h as u8 } else { 215 + h as u8 };
        image::Rgb([v, v, v.saturating_sub((seed % 9) as u8)])
    });
    prepared(&img)
}

/// `n` distinct phone-sized document photos (`photo_of_size` at 1600 x 1100), prepared on every
/// core, in seed order.
pub fn phone_photos(n: u32) -> Vec<Vec<u8>> {
    let workers = std::thread::available_parallelism().map_or(2, |p| p.get()) as u32;
    let mut out: Vec<(u32, Vec<u8>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    (w..n)
                        .step_by(workers as usize)
                        .map(|i| (i, photo_of_size(i, 1600, 1100)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("prepared"))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, p)| p).collect()
}

/// Upload every required category of the demo district (ID card front and back, diploma,
/// probation, work proof) with distinct photos.
pub async fn fill_required(client: &Client) {
    for (category, n) in [
        ("id_card", 2),
        ("diploma", 1),
        ("probation", 1),
        ("work_proof", 1),
    ] {
        for i in 0..n {
            client
                .upload(&dossier_core::client::UploadRequest {
                    category,
                    jpeg: photo(100 + i + category.len() as u32 * 10),
                    idempotency_key: uuid::Uuid::new_v4(),
                    slot: None,
                    replaces: None,
                })
                .await
                .expect("uploaded");
        }
    }
}

/// A site or district decision on an opened dossier (the review API's JSON): every material with
/// images approved, except `returned` (category, message), returned as blurry.
pub fn verdicts(
    dossier: &serde_json::Value,
    returned: Option<(&str, &str)>,
) -> Vec<serde_json::Value> {
    dossier["materials"]
        .as_array()
        .expect("materials")
        .iter()
        .filter(|m| !m["images"].as_array().expect("images").is_empty())
        .map(|m| {
            let code = m["category"]["code"].as_str().expect("a code");
            match returned {
                Some((category, message)) if category == code => serde_json::json!(
                    {"category": code, "verdict": "return", "reason": "blurry", "message": message}
                ),
                _ => serde_json::json!({"category": code, "verdict": "approve"}),
            }
        })
        .collect()
}

/// What the fault-injecting proxy did, so a test can show its faults happened.
#[derive(Default, Debug)]
pub struct ProxyStats {
    pub connections: std::sync::atomic::AtomicUsize,
    /// Reset as soon as accepted.
    pub dropped: std::sync::atomic::AtomicUsize,
    /// Reset after part of the request had been forwarded.
    pub reset_mid_body: std::sync::atomic::AtomicUsize,
    /// Request forwarded whole, then reset as the answer came back: the server acted, the phone
    /// never heard.
    pub answer_lost: std::sync::atomic::AtomicUsize,
    /// Forwarded after a delay, then reset after a random lifetime.
    pub delayed: std::sync::atomic::AtomicUsize,
}

/// A TCP proxy on loopback that mistreats connections: drops 30%, resets 20% mid-request, loses
/// 20% of answers, and delays the rest (which it cuts after a random lifetime).
pub struct FaultyProxy {
    pub base: String,
    pub stats: Arc<ProxyStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Fate {
    Drop,
    ResetMidBody(usize),
    LoseAnswer,
    Delay(std::time::Duration, std::time::Duration),
}

impl FaultyProxy {
    pub async fn start(upstream_port: u16) -> FaultyProxy {
        use rand::Rng;
        use std::sync::atomic::Ordering::Relaxed;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let stats = Arc::new(ProxyStats::default());
        let counters = stats.clone();
        let task = tokio::spawn(async move {
            while let Ok((down, _)) = listener.accept().await {
                // Every ten connections: 3 dropped, 2 reset mid-request, 2 answers lost, 3
                // delayed (and cut after a short life, so pooled connections meet faults too).
                let n = counters.connections.fetch_add(1, Relaxed);
                let fate = {
                    let mut rng = rand::rng();
                    match n % 10 {
                        1 | 5 | 7 => Fate::Drop,
                        2 | 8 => Fate::ResetMidBody(rng.random_range(64..150_000)),
                        4 | 9 => Fate::LoseAnswer,
                        _ => Fate::Delay(
                            std::time::Duration::from_millis(rng.random_range(0..300)),
                            std::time::Duration::from_millis(rng.random_range(50..600)),
                        ),
                    }
                };
                tokio::spawn(mistreat(down, upstream_port, fate, counters.clone()));
            }
        });
        FaultyProxy { base, stats, task }
    }
}

/// Close with RST rather than FIN, as a dropped mobile link looks to the other end.
fn reset(stream: tokio::net::TcpStream) {
    if let Ok(std) = stream.into_std() {
        let _ = socket2::SockRef::from(&std).set_linger(Some(std::time::Duration::ZERO));
    }
}

async fn mistreat(
    down: tokio::net::TcpStream,
    upstream_port: u16,
    fate: Fate,
    stats: Arc<ProxyStats>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if let Fate::Drop = fate {
        stats.dropped.fetch_add(1, Relaxed);
        return reset(down);
    }
    if let Fate::Delay(delay, _) = fate {
        tokio::time::sleep(delay).await;
    }
    let Ok(up) = tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await else {
        return reset(down);
    };
    let (mut down_read, mut down_write) = down.into_split();
    let (mut up_read, mut up_write) = up.into_split();
    let mut sent = 0usize;
    let mut request_buf = vec![0u8; 16 * 1024];
    let mut answer_buf = vec![0u8; 16 * 1024];
    let lifetime = match fate {
        Fate::Delay(_, life) => life,
        _ => std::time::Duration::from_secs(3600),
    };
    let deadline = tokio::time::sleep(lifetime);
    tokio::pin!(deadline);
    let counted = loop {
        tokio::select! {
            n = down_read.read(&mut request_buf) => {
                let n = match n { Ok(0) | Err(_) => break None, Ok(n) => n };
                if let Fate::ResetMidBody(limit) = fate
                    && sent + n > limit
                {
                    let _ = up_write.write_all(&request_buf[..limit - sent]).await;
                    break Some(&stats.reset_mid_body);
                }
                sent += n;
                if up_write.write_all(&request_buf[..n]).await.is_err() { break None; }
            }
            n = up_read.read(&mut answer_buf) => {
                let n = match n { Ok(0) | Err(_) => break None, Ok(n) => n };
                if let Fate::LoseAnswer = fate {
                    break Some(&stats.answer_lost);
                }
                if down_write.write_all(&answer_buf[..n]).await.is_err() { break None; }
            }
            _ = &mut deadline => break Some(&stats.delayed),
        }
    };
    if let Some(counter) = counted {
        counter.fetch_add(1, Relaxed);
    }
    if let (Ok(down), Ok(up)) = (down_read.reunite(down_write), up_read.reunite(up_write)) {
        reset(down);
        reset(up);
    }
}

/// A reviewer's or administrator's session over plain HTTP (their client is the web console).
pub struct StaffSession {
    pub base: String,
    pub token: String,
    http: reqwest::Client,
}

impl StaffSession {
    /// A session with whatever token (for tests of refusals).
    pub fn with_token(base: &str, token: &str) -> StaffSession {
        StaffSession {
            base: base.into(),
            token: token.into(),
            http: http(),
        }
    }

    /// Sign in; panics unless it succeeds.
    pub async fn login(base: &str, username: &str, password: &str) -> StaffSession {
        Self::try_login(base, username, password, None)
            .await
            .unwrap_or_else(|(status, body)| panic!("staff sign-in {status}: {body}"))
    }

    pub async fn try_login(
        base: &str,
        username: &str,
        password: &str,
        totp_code: Option<&str>,
    ) -> Result<StaffSession, (u16, serde_json::Value)> {
        let http = http();
        let response = http
            .post(format!("{base}/api/v1/staff/login"))
            .json(&serde_json::json!({"username": username, "password": password, "totp_code": totp_code}))
            .send()
            .await
            .expect("answered");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if status != 200 {
            return Err((status, body));
        }
        Ok(StaffSession {
            base: base.into(),
            token: body["access_token"].as_str().expect("a token").into(),
            http,
        })
    }

    /// Send a request; the status and the JSON body (Null when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answered");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

impl TestServer {
    /// The demo staff with fresh passwords: username → password.
    /// Wait (up to four minutes) until no analysis is waiting or running.
    pub async fn analyses_settled(&self) {
        for _ in 0..480 {
            let depth = self
                .state
                .db
                .read(dossier_server::storage::analysis::depth)
                .await
                .expect("the queue's depth");
            if depth == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        panic!("the analyses did not finish in four minutes");
    }

    pub fn staff_passwords(&self) -> std::collections::HashMap<String, String> {
        demo::seed_staff(&self.state.db, OffsetDateTime::now_utc())
            .expect("staff seeded")
            .into_iter()
            .collect()
    }
}

/// The blob store a server on `data_dir` keeps its photos in (the folder, or the shared object
/// store of `DOSSIER_TEST_BLOBS=s3`), for tests that check what is stored.
pub fn blob_store_of(data_dir: &Path) -> dossier_server::storage::BlobStore {
    let url = object_store::shared_blobs_url(data_dir)
        .unwrap_or_else(|| data_dir.join("blobs").display().to_string());
    dossier_server::storage::BlobStore::open(&url).expect("the blob store opens")
}

/// The database a server on `data_dir` keeps its metadata in (the SQLite file, or its database in
/// the shared cluster of `DOSSIER_TEST_DB=postgres`), opened and migrated.
pub fn database_of(data_dir: &Path) -> Db {
    let url = postgres_cluster::shared_database_url(data_dir)
        .unwrap_or_else(|| data_dir.join("dossier.sqlite3").display().to_string());
    Db::connect(&url).expect("the database opens")
}

/// A server's database seen from a test: reads for assertions, on either backend.
pub struct Database(pub Db);

impl Database {
    /// The first row of `sql` with `params`, read by `f`.
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T, StorageError>
    where
        T: Send,
        P: storage::sql::Params + Send,
        F: FnOnce(&storage::sql::Row<'_>) -> rusqlite::Result<T> + Send,
    {
        self.0.blocking_read(|c| c.query_row(sql, params, f))
    }

    /// Every row of `sql` with `params`, read by `f`.
    pub fn rows<T, P, F>(&self, sql: &str, params: P, f: F) -> Vec<T>
    where
        T: Send,
        P: storage::sql::Params + Send,
        F: FnMut(&storage::sql::Row<'_>) -> rusqlite::Result<T> + Send,
    {
        self.0
            .blocking_read(|c| {
                c.query_map(sql, params, f)?
                    .collect::<rusqlite::Result<Vec<T>>>()
                    .map_err(StorageError::from)
            })
            .expect("rows read")
    }
}

/// Run the server binary's command `args` on `data_dir` with more `DOSSIER_*`/`AWS_*` settings;
/// whether it succeeded, and what it printed (stdout then stderr).
pub fn run_command(data_dir: &Path, args: &[&str], env: &[(String, String)]) -> (bool, String) {
    let mut env = env.to_vec();
    if let Some(url) = object_store::shared_blobs_url(data_dir)
        && !env.iter().any(|(k, _)| k == "DOSSIER_BLOBS__URL")
    {
        env.push(("DOSSIER_BLOBS__URL".into(), url));
    }
    if let Some(url) = postgres_cluster::shared_database_url(data_dir)
        && !env.iter().any(|(k, _)| k == "DOSSIER_DATABASE__URL")
    {
        env.push(("DOSSIER_DATABASE__URL".into(), url));
    }
    let out = Command::new(binary("dossier-test-server"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("DOSSIER_DATA_DIR", data_dir)
        .env("DOSSIER_LOG", "warn")
        .output()
        .expect("the server binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
