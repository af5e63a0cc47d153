//! The sign-in page: a plain form posted to `/signin`, so it works before
//! the page's script has loaded. The reason for coming back here (a wrong
//! password, too many attempts, an ended session) comes in the query.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::sign_in_hint;
use crate::components::top_bar::TopBar;
use crate::url::percent_encode;

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
        Some("sso-no-role") => Some((
            "error",
            "Your company account has no role in TravoIQ Monitor. Ask your administrator to add you to a monitor group.",
        )),
        Some("sso-name-taken") => Some((
            "error",
            "Your company account's username is already a local account here. Ask your administrator.",
        )),
        Some("sso-disabled") => Some((
            "error",
            "Your account is disabled here. Ask your administrator.",
        )),
        Some("sso-bad-claims") => Some((
            "error",
            "Your company account gives no usable username or agent id here. Ask your administrator.",
        )),
        Some("sso-expired") => Some((
            "error",
            "The company sign-in took too long or was interrupted. Try again.",
        )),
        Some("sso-unavailable") => Some((
            "error",
            "Company sign-in is unavailable right now. Try again shortly, or use a password.",
        )),
        Some("sso-off") => Some((
            "error",
            "Company sign-in is not set up on this server.",
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
    let hint = Resource::new_blocking(|| (), |_| sign_in_hint());
    let signed_out = move || query.with(|q| q.get_str("signed_out").is_some());
    let sso_href = move || format!("/signin/sso?next={}", percent_encode(&next()));
    // After a refusal the name typed comes back: the password gets focus.
    let user = move || query.with(|q| q.get("user")).unwrap_or_default();
    let has_user = move || !user().is_empty();

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
                    value=user
                    autofocus=move || !has_user()
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
                    autofocus=has_user
                    data-testid="password"
                />
                // In the server's HTML, so a sign-in before the script has
                // loaded (or without it) still returns to the page asked for.
                <input type="hidden" name="next" value=next />
                <button type="submit" class="primary" data-testid="sign-in">
                    "Sign in"
                </button>
                <Suspense>
                    {move || Suspend::new(async move {
                        let hint = hint.await.unwrap_or_default();
                        let sso = hint.sso_label.clone().map(|label| {
                            view! {
                                <p class="or">"or"</p>
                                <a class="button sso" href=sso_href rel="external" data-testid="sso-sign-in">
                                    "Sign in with " {label}
                                </a>
                            }
                        });
                        let sso_out = hint
                            .sso_sign_out
                            .clone()
                            .filter(|_| signed_out())
                            .map(|url| {
                                let label = hint.sso_label.clone().unwrap_or_default();
                                view! {
                                    <p class="hint">
                                        <a href=url data-testid="sso-sign-out">
                                            "Sign out of " {label} " too"
                                        </a>
                                    </p>
                                }
                            });
                        let whence = if hint.demo_password_set {
                            " with the password set in TRAVOIQ_DEMO_PASSWORD."
                        } else {
                            " with the password printed in the server's log."
                        };
                        let demo = hint
                            .demo
                            .then(|| {
                                view! {
                                    <p class="hint" data-testid="demo-hint">
                                        "Demo: sign in as "
                                        <code>"supervisor"</code>
                                        " or "
                                        <code>"agent"</code>
                                        {whence}
                                    </p>
                                }
                            });
                        view! { {sso} {sso_out} {demo} }
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
