//! Browser-only code: the live socket with reconnects.

pub mod prefs;
pub mod socket;
