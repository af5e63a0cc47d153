//! The signed-in user, a link to the admin page for admins, and sign-out
//! (a plain form post, so it works whatever state the page is in).

use leptos::prelude::*;

use crate::context::Me;
use crate::model::Role;

#[component]
pub fn UserBar() -> impl IntoView {
    let me = expect_context::<Me>().0;
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                me.await
                    .ok()
                    .flatten()
                    .map(|user| {
                        let admin = user.role == Role::Admin;
                        view! {
                            <div class="user-bar" data-testid="user-bar">
                                <span class="who">
                                    <strong data-testid="user-name">{user.username.to_string()}</strong>
                                    <span class="role" data-testid="user-role">{user.role.as_str()}</span>
                                </span>
                                <Show when=move || admin>
                                    <a href="/admin" data-testid="admin-link">"Accounts"</a>
                                </Show>
                                <form method="post" action="/signout">
                                    <button type="submit" class="quiet" data-testid="sign-out">
                                        "Sign out"
                                    </button>
                                </form>
                            </div>
                        }
                    })
            })}
        </Suspense>
    }
}
