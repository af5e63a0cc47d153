//! Browser-only code: the live socket with reconnects.

pub mod socket;
