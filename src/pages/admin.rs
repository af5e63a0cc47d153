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
use crate::pages::confirm;

/// What the last action on the page came to: one message at a time, at
/// the top, naming the account.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Added { name: String, password: String },
    Reset { name: String, password: String },
    Done(String),
    Failed(String),
}

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
    let outcome = RwSignal::new(None::<Outcome>);
    // The account each action was last asked about (the answers carry only
    // a password, or nothing).
    let adding = RwSignal::new(String::new());
    let resetting = RwSignal::new(String::new());
    report(add, outcome, move |password| Outcome::Added {
        name: adding.get_untracked(),
        password,
    });
    report(reset, outcome, move |password| Outcome::Reset {
        name: resetting.get_untracked(),
        password,
    });
    let toggled = RwSignal::new((String::new(), false));
    let changed = RwSignal::new((String::new(), String::new()));
    report(disable, outcome, move |()| {
        let (name, disabled) = toggled.get_untracked();
        Outcome::Done(if disabled {
            format!("{name} is disabled; their sessions ended.")
        } else {
            format!("{name} is enabled again.")
        })
    });
    report(role, outcome, move |()| {
        let (name, role) = changed.get_untracked();
        Outcome::Done(format!("{name} is now {role}; their sessions ended."))
    });
    let on_disable = Callback::new(move |(name, disabled): (String, bool)| {
        toggled.set((name.clone(), disabled));
        disable.dispatch(SetAccountDisabled {
            username: name,
            disabled,
        });
    });
    let on_role = Callback::new(move |(name, new_role): (String, String)| {
        changed.set((name.clone(), new_role.clone()));
        role.dispatch(SetAccountRole {
            username: name,
            role: new_role,
        });
    });

    let on_reset = Callback::new(move |name: String| {
        if confirm(&format!(
            "Give {name} a new password? Their current password stops working and their sessions end."
        )) {
            resetting.set(name.clone());
            reset.dispatch(ResetPassword { username: name });
        }
    });

    view! {
        <main class="page admin-page">
            <TopBar links_home=true signed_in=true />
            <h2>"Accounts"</h2>
            <OutcomeMessage outcome />
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match accounts.await {
                        Ok(list) => view! {
                            <AccountTable list on_disable on_reset on_role />
                            <AddAccountForm add adding />
                        }
                        .into_any(),
                        Err(AppError::NotAllowed) => view! {
                            <p class="empty" data-testid="admin-refused">"Only an admin can manage accounts."</p>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

/// Writes each answer of `action` to `outcome` (an error as it is, a
/// success through `done`), replacing the message before it.
fn report<A, T>(
    action: ServerAction<A>,
    outcome: RwSignal<Option<Outcome>>,
    done: impl Fn(T) -> Outcome + 'static,
) where
    A: leptos::server_fn::ServerFn<Output = T, Error = AppError> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if let Some(result) = action.value().get() {
            outcome.set(Some(match result {
                Ok(value) => done(value),
                Err(e) => Outcome::Failed(e.to_string()),
            }));
        }
    });
}

/// The last action's message, at the top of the page where it is seen; a
/// password shown once gets the focus, so it is in view and read out.
#[component]
fn OutcomeMessage(outcome: RwSignal<Option<Outcome>>) -> impl IntoView {
    let shown = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if outcome.with(|o| matches!(o, Some(Outcome::Added { .. } | Outcome::Reset { .. }))) {
            if let Some(el) = shown.get() {
                let _ = el.focus();
                el.scroll_into_view();
            }
        }
    });
    move || {
        outcome.get().map(|o| match o {
            Outcome::Added { name, password } => view! {
                <div class="outcome" tabindex="-1" node_ref=shown role="status" data-testid="new-password">
                    <p>"Account " <strong>{name}</strong> " added. Its password, shown only now:"</p>
                    <code>{password}</code>
                </div>
            }
            .into_any(),
            Outcome::Reset { name, password } => view! {
                <div class="outcome" tabindex="-1" node_ref=shown role="status" data-testid="reset-password">
                    <p>"New password for " <strong>{name}</strong> ", shown only now:"</p>
                    <code>{password}</code>
                </div>
            }
            .into_any(),
            Outcome::Done(message) => {
                view! { <p class="form-info" role="status">{message}</p> }.into_any()
            }
            Outcome::Failed(message) => view! {
                <p class="form-error" role="alert" data-testid="admin-error">{message}</p>
            }
            .into_any(),
        })
    }
}

/// Adds an account: an agent unless chosen otherwise (the least a new
/// account can do), emptied once the account is added.
#[component]
fn AddAccountForm(add: ServerAction<AddAccount>, adding: RwSignal<String>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Agent.as_str().to_string());
    let agent_id = RwSignal::new(String::new());
    Effect::new(move |_| {
        if matches!(add.value().get(), Some(Ok(_))) {
            username.set(String::new());
            role.set(Role::Agent.as_str().to_string());
            agent_id.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        adding.set(username.get_untracked().trim().to_string());
        add.dispatch(AddAccount {
            username: username.get_untracked(),
            role: role.get_untracked(),
            agent_id: agent_id.get_untracked(),
        });
    };
    view! {
        <form class="add-account" data-testid="add-account" on:submit=submit>
            <h3>"Add an account"</h3>
            <label for="new-username">"Username"</label>
            <input id="new-username" name="username" required maxlength="64" autocomplete="off" bind:value=username />
            <label for="new-role">"Role"</label>
            <select id="new-role" name="role" prop:value=move || role.get() on:change=move |ev| role.set(event_target_value(&ev))>
                {Role::ALL
                    .iter()
                    .map(|r| {
                        view! {
                            <option value=r.as_str() selected=*r == Role::Agent>
                                {r.as_str()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <label for="new-agent-id">"Agent id (blank: the username)"</label>
            <input id="new-agent-id" name="agent_id" maxlength="128" autocomplete="off" bind:value=agent_id />
            <button type="submit" class="primary">"Add"</button>
        </form>
    }
}

#[component]
fn AccountTable(
    list: Vec<AccountSummary>,
    on_disable: Callback<(String, bool)>,
    on_reset: Callback<String>,
    on_role: Callback<(String, String)>,
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
                                <td class="username">{name}</td>
                                <td>
                                    <select
                                        data-testid="account-role"
                                        aria-label=role_label
                                        on:change=move |ev| {
                                            on_role.run((role_name.clone(), event_target_value(&ev)));
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
                                        on:click=move |_| on_disable.run((toggle_name.clone(), !disabled))
                                    >
                                        {if disabled { "Enable" } else { "Disable" }}
                                    </button>
                                    <button
                                        type="button"
                                        on:click=move |_| on_reset.run(reset_name.clone())
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
