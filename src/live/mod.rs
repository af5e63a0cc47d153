//! The browser's view of a live call, as plain Rust: what the page knows
//! (the call, its transcript, the position to resume from, the state of the
//! link) and how each server frame changes it. No signals and no browser
//! APIs, so it compiles everywhere and is unit-tested natively; the
//! components hold a [`state::LiveState`] in a signal and only render it.

pub mod find;
pub mod floor;
pub mod state;
pub mod status;
pub mod talk;
pub mod transcript;
pub mod wall;
pub mod window;
