//! The sign-in page: a plain form posted to `/signin`, so it works before
//! the page's script has loaded. The reason for coming back here (a wrong
//! password, too many attempts, an ended session) comes in the query.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::sign_in_hint;
use crate::components::top_bar::TopBar;

fn message(
    error: Option<&str>,
    ended: bool,
    signed_out: bool,
) -> Option<(&'static str, &'static str)> {
    // (class, words)
    match error {
        Some("invalid") => Some(("error", "Wrong username or password.")),
        Some("throttled") => Some((
            "error",
            "Too many sign-in attempts. Wait a minute, then try again.",
        )),
        Some("unavailable") => Some((
            "error",
            "Sign-in is unavailable right now. Try again shortly.",
        )),
        Some(_) => Some(("error", "Sign-in failed. Try again.")),
        None if ended => Some(("info", "Your session ended. Sign in again.")),
        None if signed_out => Some(("info", "You have signed out.")),
        None => None,
    }
}

#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next")).unwrap_or_else(|| "/".into());
    let notice = move || {
        query.with(|q| {
            message(
                q.get_str("error"),
                q.get_str("ended").is_some(),
                q.get_str("signed_out").is_some(),
            )
        })
    };
    let demo = Resource::new_blocking(|| (), |_| sign_in_hint());

    view! {
        <main class="page signin-page">
            <TopBar />
            <form class="signin" method="post" action="/signin" data-testid="sign-in-form">
                <h2>"Sign in"</h2>
                {move || {
                    notice()
                        .map(|(class, words)| {
                            view! {
                                <p class=format!("form-{class}") role="alert" data-testid="sign-in-message">
                                    {words}
                                </p>
                            }
                        })
                }}
                <label for="username">"Username"</label>
                <input
                    id="username"
                    name="username"
                    type="text"
                    autocomplete="username"
                    autocapitalize="off"
                    spellcheck="false"
                    required
                    maxlength="64"
                    data-testid="username"
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    maxlength="256"
                    data-testid="password"
                />
                <input type="hidden" name="next" prop:value=next />
                <button type="submit" class="primary" data-testid="sign-in">
                    "Sign in"
                </button>
                <Suspense>
                    {move || Suspend::new(async move {
                        matches!(demo.await, Ok(true))
                            .then(|| {
                                view! {
                                    <p class="hint" data-testid="demo-hint">
                                        "Demo: sign in as "
                                        <code>"supervisor"</code>
                                        " or "
                                        <code>"agent"</code>
                                        " with the password printed in the server's log."
                                    </p>
                                }
                            })
                    })}
                </Suspense>
            </form>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn the_message_never_says_whether_an_account_exists() {
        assert_eq!(
            message(Some("invalid"), false, false),
            Some(("error", "Wrong username or password."))
        );
        assert!(
            message(Some("throttled"), false, false).is_some_and(|(_, m)| !m.contains("account"))
        );
        assert_eq!(message(None, false, false), None);
        assert_eq!(message(None, true, false).map(|m| m.0), Some("info"));
    }
}
