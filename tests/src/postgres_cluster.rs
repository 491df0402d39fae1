//! A real PostgreSQL for the tests: Debian's server (`scripts/packages.sh`'s
//! `install_postgresql`), a throwaway cluster made with `initdb` in a temporary folder, run as the
//! `postgres` user when the tests run as root (PostgreSQL refuses root), listening on loopback on
//! a free port, stopped and removed when dropped. Each test takes its own database in it.
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// The folder of Debian's PostgreSQL programs (`DOSSIER_TEST_PG_BIN`, or the newest
/// `/usr/lib/postgresql/N/bin`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOSSIER_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (scripts/test.sh installs it: source scripts/packages.sh; install_postgresql)"
        )
    })
}

pub struct PostgresCluster {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
}

/// The uid and gid to run PostgreSQL as: `postgres` when this process is root, else its own.
fn run_as() -> Option<(u32, u32)> {
    // SAFETY: getuid(2) cannot fail.
    if unsafe { libc::getuid() } != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id runs");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a postgres user (Debian's postgresql package makes it)")
    };
    Some((id("-u"), id("-g")))
}

impl PostgresCluster {
    /// `initdb` a cluster and start it; returns once it accepts connections. Tests' clusters do
    /// not wait for the disk (what a test checks is what the server commits and reads, not
    /// PostgreSQL's own durability); see `start_durable`.
    pub fn start() -> PostgresCluster {
        Self::start_as(false)
    }

    /// A cluster that syncs its commits to disk, as a deployment's does (for benchmarks).
    pub fn start_durable() -> PostgresCluster {
        Self::start_as(true)
    }

    fn start_as(durable: bool) -> PostgresCluster {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("temp dir");
        let user = run_as();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            // A throwaway cluster: nothing to make durable at the end of initdb.
            .arg("--no-sync")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_user(&mut initdb, user);
        let out = initdb.output().expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cluster = PostgresCluster {
            child: None,
            dir,
            port: free_port(),
        };
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &cluster.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                cluster.dir.path().display()
            ))
            // Tests start many servers, each with a small pool.
            .args(["-c", "max_connections=300"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !durable {
            postgres.args(["-c", "fsync=off", "-c", "synchronous_commit=off"]);
            postgres.args(["-c", "full_page_writes=off"]);
        }
        as_user(&mut postgres, user);
        // The cluster goes with the test even if the test process is killed.
        crate::dies_with_parent(&mut postgres);
        cluster.child = Some(postgres.spawn().expect("postgres starts"));
        cluster.wait_ready();
        cluster
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if postgres::Client::connect(&self.url("postgres"), postgres::NoTls).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not accept connections within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The postmaster's process id (its backends are its children).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The URL of database `name` in this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn create_database(&self) -> String {
        let name = format!("t{}", uuid::Uuid::new_v4().simple());
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("the cluster answers");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE");
        self.url(&name)
    }
}

fn as_user(command: &mut Command, user: Option<(u32, u32)>) {
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT: PostgreSQL's "fast" shutdown (SIGKILL would leave its shared memory).
            // SAFETY: signalling our own child.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGINT);
            }
            let _ = child.wait();
        }
    }
}

/// The end-to-end suites' second configuration: with `DOSSIER_TEST_DB=postgres`, every server a
/// test starts keeps its metadata in one PostgreSQL cluster shared by the whole test binary, in a
/// database of its own named after its data directory (so a restarted server finds its data).
/// `None`: SQLite in the data directory, as by default.
pub fn shared_database_url(data_dir: &Path) -> Option<String> {
    static SHARED: std::sync::OnceLock<Option<u16>> = std::sync::OnceLock::new();
    static CREATED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let port = (*SHARED.get_or_init(|| {
        if std::env::var("DOSSIER_TEST_DB").ok()? != "postgres" {
            return None;
        }
        // Started by a thread that lives as long as the process (the cluster's parent-death
        // signal follows the thread that started it); stopped and removed at exit.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let cluster = PostgresCluster::start();
            let port = cluster.port;
            let pid = cluster.child.as_ref().map(|c| c.id()).unwrap_or(0);
            let _ = SHARED_CLUSTER.set((pid, cluster.dir.path().to_path_buf()));
            // Neither stopped nor removed on drop: `stop_shared_cluster` does both at exit.
            std::mem::forget(cluster);
            // SAFETY: registering a plain function to run at exit.
            unsafe { libc::atexit(stop_shared_cluster) };
            tx.send(port).expect("the test waits");
            loop {
                std::thread::park();
            }
        });
        Some(rx.recv().expect("PostgreSQL started"))
    }))?;
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().trim_start_matches('.').to_string())
        .unwrap_or_default();
    let url = format!("postgres://postgres@127.0.0.1:{port}/{name}");
    let mut created = CREATED.lock().unwrap_or_else(|p| p.into_inner());
    if !created.contains(&name) {
        let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        // On a thread of its own: the blocking client must not run inside a test's runtime.
        let quoted = name.replace('"', "");
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("cluster");
            client
                .batch_execute(&format!("CREATE DATABASE \"{quoted}\""))
                .expect("CREATE DATABASE");
        })
        .join()
        .expect("database created");
        created.push(name);
    }
    Some(url)
}

static SHARED_CLUSTER: std::sync::OnceLock<(u32, std::path::PathBuf)> = std::sync::OnceLock::new();

extern "C" fn stop_shared_cluster() {
    if let Some((pid, dir)) = SHARED_CLUSTER.get() {
        // SAFETY: signalling and reaping our own child (PostgreSQL's fast shutdown).
        unsafe {
            libc::kill(*pid as i32, libc::SIGINT);
            libc::waitpid(*pid as i32, std::ptr::null_mut(), 0);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
