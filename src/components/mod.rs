//! Reusable pieces of the dashboard.

pub mod call_card;
pub mod controls;
pub mod status;
pub mod transcript;
pub mod user_bar;
