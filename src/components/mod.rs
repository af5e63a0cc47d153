//! Reusable pieces of the dashboard.

pub mod call_card;
pub mod controls;
pub mod status;
pub mod top_bar;
pub mod transcript;
pub mod user_bar;
