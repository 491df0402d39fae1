//! Settings from a TOML file plus `DOSSIER_*` environment variables (nested keys with `__`, e.g.
//! `DOSSIER_AUTH__SECURE_COOKIES=true`). The defaults run on a fresh machine: everything under
//! `./data`, listening on 127.0.0.1:8080.
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use crate::analysis::AnalysisSettings;
use crate::auth::AuthSettings;
use crate::notify::NotifySettings;
use crate::ops::{ConnectionSettings, LimitSettings};

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: String,
    /// Database (`dossier.sqlite3`, unless `database.url` says otherwise) and blobs (`blobs/`,
    /// unless `blobs.url` says otherwise) live here.
    pub data_dir: PathBuf,
    /// Where the metadata is kept (`[database]`).
    pub database: DatabaseSettings,
    /// Where the photos' bytes are kept (`[blobs]`).
    pub blobs: BlobSettings,
    /// `tracing` filter, e.g. `info` or `dossier_server=debug`.
    pub log: String,
    /// `text` (key=value) or `json` (one object a line).
    pub log_format: LogFormat,
    /// How often unreferenced blobs are swept, and how old they must be.
    pub sweep_interval_secs: u64,
    pub sweep_grace_secs: u64,
    /// After SIGTERM, in-flight requests get this long to finish before the server exits.
    pub shutdown_grace_secs: u64,
    pub auth: AuthSettings,
    pub notify: NotifySettings,
    /// Load shedding and request bodies (`[limits]`).
    pub limits: LimitSettings,
    /// Connection limit and the slow-client guard (`[connections]`).
    pub connections: ConnectionSettings,
    /// Reading ID cards for the reviewers (`[analysis]`).
    pub analysis: AnalysisSettings,
}

#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            log: "info".into(),
            log_format: LogFormat::Text,
            sweep_interval_secs: 3600,
            sweep_grace_secs: 3600,
            shutdown_grace_secs: 30,
            auth: AuthSettings::default(),
            notify: NotifySettings::default(),
            limits: LimitSettings::default(),
            connections: ConnectionSettings::default(),
            analysis: AnalysisSettings::default(),
            blobs: BlobSettings::default(),
            database: DatabaseSettings::default(),
        }
    }
}

/// `[blobs]`: a folder, or an S3-compatible object store (`storage::blobs`).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct BlobSettings {
    /// A folder (`/srv/dossier/blobs`, or `file://…`), or `s3://bucket/prefix` with the
    /// credentials, region and endpoint in the standard `AWS_*` environment variables (never in
    /// this file). Empty: `blobs/` under `data_dir`. `DOSSIER_BLOBS__URL`.
    pub url: String,
}

/// `[database]`: SQLite (the default) or PostgreSQL (`storage::db`).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (or a path), or `postgres://user@host:port/dbname`; the password in
    /// `PGPASSWORD` (or in the URL given as `DOSSIER_DATABASE__URL`), never in this file. Empty:
    /// `dossier.sqlite3` under `data_dir`.
    pub url: String,
}

impl Settings {
    /// Defaults, then the TOML file (`dossier.toml` in the working directory unless named), then
    /// the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, Box<figment::Error>> {
        let file = file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("dossier.toml"));
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("DOSSIER_").split("__"))
            .extract()
            .map_err(Box::new)
    }

    /// Where the database is: `database.url`, else `dossier.sqlite3` under `data_dir`.
    pub fn database_url(&self) -> String {
        match self.database.url.as_str() {
            "" => self.data_dir.join("dossier.sqlite3").display().to_string(),
            url => url.to_string(),
        }
    }

    /// Where the blobs are: `blobs.url`, else the folder `blobs/` under `data_dir`.
    pub fn blobs_url(&self) -> String {
        match self.blobs.url.as_str() {
            "" => self.data_dir.join("blobs").display().to_string(),
            url => url.to_string(),
        }
    }
}
