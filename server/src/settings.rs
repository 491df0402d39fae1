//! Settings from a TOML file plus `DOSSIER_*` environment variables (nested keys with `__`, e.g.
//! `DOSSIER_AUTH__SECURE_COOKIES=true`). The defaults run on a fresh machine: everything under
//! `./data`, listening on 127.0.0.1:8080.
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use crate::auth::AuthSettings;
use crate::notify::NotifySettings;

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: String,
    /// Database (`dossier.sqlite3`) and blobs (`blobs/`) live here.
    pub data_dir: PathBuf,
    /// `tracing` filter, e.g. `info` or `dossier_server=debug`.
    pub log: String,
    /// How often unreferenced blobs are swept, and how old they must be.
    pub sweep_interval_secs: u64,
    pub sweep_grace_secs: u64,
    pub auth: AuthSettings,
    pub notify: NotifySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            log: "info".into(),
            sweep_interval_secs: 3600,
            sweep_grace_secs: 3600,
            auth: AuthSettings::default(),
            notify: NotifySettings::default(),
        }
    }
}

impl Settings {
    /// Defaults, then the TOML file (`dossier.toml` in the working directory unless named), then
    /// the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, figment::Error> {
        let file = file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("dossier.toml"));
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("DOSSIER_").split("__"))
            .extract()
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("dossier.sqlite3")
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
}
