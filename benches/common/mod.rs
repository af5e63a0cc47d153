//! What the benches share: the demo supervisor's password and sign-in, a
//! throwaway accounts file, and a live call started as the upstream
//! writer starts one. Each bench uses part of it.
#![allow(dead_code)]

use travoiq_monitor::model::CallId;
use travoiq_monitor::server::store::{CallSink, NewContact};

/// The demo accounts' password on every bench server.
pub const PASSWORD: &str = "bench-demo-password";

/// Signs in at `base` (`http://127.0.0.1:PORT`) as the demo supervisor;
/// the session cookie.
pub async fn sign_in(base: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = client
        .post(format!("{base}/signin"))
        .form(&[("username", "supervisor"), ("password", PASSWORD)])
        .send()
        .await
        .expect("sign in");
    res.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// A fresh accounts file's path in the temp dir, so a bench server's demo
/// accounts never land in the working tree.
pub fn temp_accounts_file() -> String {
    std::env::temp_dir()
        .join(format!(
            "travoiq-bench-accounts-{:x}.json",
            rand::random::<u64>()
        ))
        .to_string_lossy()
        .into_owned()
}

/// Starts call `id` through `writer`, as the upstream pipeline does: its
/// contact item with the contact id and a start time of now.
pub async fn start_call(writer: &dyn CallSink, id: &CallId) {
    writer
        .start_call(NewContact {
            call_id: id.clone(),
            attributes: [
                ("contactId".to_string(), id.to_string()),
                (
                    "callTimestamp".to_string(),
                    travoiq_monitor::server::timestamp::format_js_date_string(
                        time::OffsetDateTime::now_utc(),
                    ),
                ),
            ]
            .into_iter()
            .collect(),
        })
        .await
        .expect("call");
}
