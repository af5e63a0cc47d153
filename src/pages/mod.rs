//! Pages, one per file.

pub mod admin;
pub mod dashboard;
pub mod floor;
pub mod not_found;
pub mod sign_in;
pub mod wall;
