//! Dossier's server: candidate accounts, the district's catalogue, uploads with locks and
//! deadlines. See ARCHITECTURE.md for the map.
pub mod admin;
pub mod analysis;
pub mod app;
pub mod auth;
pub mod cli;
pub mod demo;
pub mod district;
pub mod dossier;
pub mod edge;
pub mod error;
pub mod http;
pub mod notify;
pub mod ops;
pub mod review;
pub mod roster;
pub mod settings;
pub mod staff;
pub mod state;
pub mod storage;
pub mod web;

pub use app::Application;
pub use settings::Settings;
pub use state::AppState;
