//! Dossier's core: one definition of the wire types (`api`), the domain rules (`domain`), the photo
//! pipeline (`photo`), and the client and offline upload queue the phone apps embed (`client`,
//! `queue`).
pub mod api;
#[cfg(feature = "client")]
pub mod client;
pub mod domain;
pub mod photo;
#[cfg(feature = "client")]
pub mod queue;
#[cfg(feature = "sqlite")]
pub mod store;
