//! Pages, one per file.

pub mod dashboard;
pub mod not_found;
