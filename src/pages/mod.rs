//! Pages, one per file.

pub mod admin;
pub mod dashboard;
pub mod floor;
pub mod not_found;
pub mod rules;
pub mod sign_in;
pub mod wall;

/// Asks the user to confirm; without a window (on the server) nothing is
/// confirmed.
pub(crate) fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        leptos::prelude::window()
            .confirm_with_message(question)
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        false
    }
}
