//! The UniFFI layer over `dossier-core` lives here. It is not written yet: see ARCHITECTURE.md
//! ("Bindings"). The crate exists so the workspace has its final shape.
pub use dossier_core as core;
