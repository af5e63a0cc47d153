//! Browser-only code: the live socket with reconnects, remembered
//! preferences, notifications, and the screen wake lock.

pub mod notify;
pub mod prefs;
pub mod socket;
pub mod wake_lock;
