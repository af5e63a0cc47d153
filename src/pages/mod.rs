//! Pages, one per file.

pub mod dashboard;
pub mod not_found;
pub mod admin;
pub mod sign_in;
