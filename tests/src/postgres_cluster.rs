//! A real PostgreSQL for the tests: Debian's server (`scripts/packages.sh`'s
//! `install_postgresql`), a throwaway cluster made with `initdb` in a temporary folder, run as the
//! `postgres` user when the tests run as root (PostgreSQL refuses root), listening on loopback on
//! a free port, stopped and removed when dropped. Each test takes its own database in it.
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
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
    /// `initdb` a cluster and start it; returns once it accepts connections.
    pub fn start() -> PostgresCluster {
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
