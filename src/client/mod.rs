//! Browser-only code: the live socket with reconnects, remembered
//! preferences, and the screen wake lock.

pub mod prefs;
pub mod socket;
pub mod wake_lock;
