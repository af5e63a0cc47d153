//! Hooks: behaviour a component takes on for as long as it lives, kept
//! apart from what it renders.

pub mod live;
pub mod socket;
pub mod wake_lock;
