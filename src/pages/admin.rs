//! The admin page: every account, adding one, disabling, enabling,
//! resetting passwords and changing roles (which ends the account's
//! sessions). New passwords are random and shown once.

use leptos::prelude::*;

use crate::admin_api::{
    list_accounts, AddAccount, ResetPassword, SetAccountDisabled, SetAccountRole,
};
use crate::components::top_bar::TopBar;
use crate::error::AppError;
use crate::model::{AccountSummary, Role};

#[component]
pub fn Admin() -> impl IntoView {
    let add = ServerAction::<AddAccount>::new();
    let disable = ServerAction::<SetAccountDisabled>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let role = ServerAction::<SetAccountRole>::new();
    let accounts = Resource::new(
        move || {
            (
                add.version().get(),
                disable.version().get(),
                reset.version().get(),
                role.version().get(),
            )
        },
        |_| list_accounts(),
    );

    let added = move || {
        add.value().get().map(|result| match result {
            Ok(password) => view! {
                <p class="form-info" role="status" data-testid="new-password">
                    "Account added. Its password (shown once): " <code>{password}</code>
                </p>
            }
            .into_any(),
            Err(e) => view! { <p class="form-error" role="alert" data-testid="admin-error">{e.to_string()}</p> }.into_any(),
        })
    };
    let was_reset = move || {
        reset.value().get().map(|result| match result {
            Ok(password) => view! {
                <p class="form-info" role="status" data-testid="reset-password">
                    "Password reset. The new password (shown once): " <code>{password}</code>
                </p>
            }
            .into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    let disable_error = move || {
        disable
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
    };
    let role_error = move || {
        role.value().get().and_then(Result::err).map(|e| {
            view! {
                <p class="form-error" role="alert" data-testid="role-error">
                    {e.to_string()}
                </p>
            }
        })
    };

    view! {
        <main class="page admin-page">
            <TopBar links_home=true signed_in=true />
            <h2>"Accounts"</h2>
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match accounts.await {
                        Ok(list) => view! { <AccountTable list disable reset role /> }.into_any(),
                        Err(AppError::NotAllowed) => view! {
                            <p class="empty" data-testid="admin-refused">"Only an admin can manage accounts."</p>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            {disable_error}
            {role_error}
            {was_reset}
            <ActionForm action=add attr:class="add-account" attr:data-testid="add-account">
                <h3>"Add an account"</h3>
                <label for="new-username">"Username"</label>
                <input id="new-username" name="username" required maxlength="64" autocomplete="off" />
                <label for="new-role">"Role"</label>
                <select id="new-role" name="role">
                    {Role::ALL
                        .iter()
                        .map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> })
                        .collect_view()}
                </select>
                <label for="new-agent-id">"Agent id (blank: the username)"</label>
                <input id="new-agent-id" name="agent_id" maxlength="128" autocomplete="off" />
                <button type="submit" class="primary">"Add"</button>
            </ActionForm>
            {added}
        </main>
    }
}

#[component]
fn AccountTable(
    list: Vec<AccountSummary>,
    disable: ServerAction<SetAccountDisabled>,
    reset: ServerAction<ResetPassword>,
    role: ServerAction<SetAccountRole>,
) -> impl IntoView {
    view! {
        <table class="accounts" data-testid="accounts">
            <thead>
                <tr>
                    <th>"Username"</th>
                    <th>"Role"</th>
                    <th>"Agent id"</th>
                    <th>"State"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|a| {
                        let name = a.username.to_string();
                        let (toggle_name, reset_name, row_name) =
                            (name.clone(), name.clone(), name.clone());
                        let role_name = name.clone();
                        let role_label = format!("Role of {name}");
                        let current = a.role;
                        let disabled = a.disabled;
                        view! {
                            <tr data-testid="account-row" data-username=row_name>
                                <td>{name}</td>
                                <td>
                                    <select
                                        data-testid="account-role"
                                        aria-label=role_label
                                        on:change=move |ev| {
                                            role.dispatch(SetAccountRole {
                                                username: role_name.clone(),
                                                role: event_target_value(&ev),
                                            });
                                        }
                                    >
                                        {Role::ALL
                                            .iter()
                                            .map(|r| {
                                                view! {
                                                    <option value=r.as_str() selected=*r == current>
                                                        {r.as_str()}
                                                    </option>
                                                }
                                            })
                                            .collect_view()}
                                    </select>
                                </td>
                                <td>{a.agent_id}</td>
                                <td>{if disabled { "disabled" } else { "active" }}</td>
                                <td class="row-actions">
                                    <button
                                        type="button"
                                        on:click=move |_| {
                                            disable.dispatch(SetAccountDisabled {
                                                username: toggle_name.clone(),
                                                disabled: !disabled,
                                            });
                                        }
                                    >
                                        {if disabled { "Enable" } else { "Disable" }}
                                    </button>
                                    <button
                                        type="button"
                                        on:click=move |_| {
                                            reset.dispatch(ResetPassword { username: reset_name.clone() });
                                        }
                                    >
                                        "Reset password"
                                    </button>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
