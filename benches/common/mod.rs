//! What the benches share: the demo supervisor's password and sign-in, a
//! throwaway accounts file, the server's settings on either store and the
//! server itself on a free loopback port, a call made through the
//! developer API or started as the upstream writer starts one, and a
//! process's CPU time and resident memory. Each bench uses part of it.
#![allow(dead_code)]

use serde_json::{json, Value};
use travoiq_monitor::model::CallId;
use travoiq_monitor::server::config::Settings;
use travoiq_monitor::server::startup::Application;
use travoiq_monitor::server::store::{CallSink, NewContact};

/// The demo accounts' password on every bench server.
pub const PASSWORD: &str = "bench-demo-password";

/// The developer API's token on the embedded-store bench servers.
pub const DEV_TOKEN: &str = "bench-dev-token";

/// A bench server's settings on the embedded store: no simulator, the
/// developer API and demo accounts on (their accounts in `accounts_file`),
/// no audit log, no limit on sockets from one address; then `extra`.
pub fn embedded_settings(accounts_file: &str, extra: &[(&str, &str)]) -> Settings {
    let mut all = vec![
        ("store", "memory"),
        ("simulator", "off"),
        ("dev_api", "on"),
        ("dev_api_token", DEV_TOKEN),
        ("demo_users", "on"),
        ("demo_password", PASSWORD),
        ("accounts_file", accounts_file),
        ("audit_log", "off"),
        ("max_sockets_per_client", "0"),
    ];
    all.extend_from_slice(extra);
    Settings::load_with(&all).expect("settings")
}

/// A bench server's settings on DynamoDB (the tables of `prefix`, reached
/// through `sdk`): no simulator, demo accounts on; then `extra`. The
/// accounts' tables are created.
pub async fn dynamo_settings(
    prefix: &str,
    sdk: &aws_config::SdkConfig,
    extra: &[(&str, &str)],
) -> Settings {
    let mut all = vec![
        ("store", "dynamodb"),
        ("simulator", "off"),
        ("table_prefix", prefix),
        ("demo_users", "on"),
        ("demo_password", PASSWORD),
    ];
    all.extend_from_slice(extra);
    let settings = Settings::load_with(&all).expect("settings");
    travoiq_monitor::server::auth::dynamo_store::DynamoAccounts::from_settings(
        &settings,
        aws_sdk_dynamodb::Client::new(sdk),
    )
    .create_tables()
    .await
    .expect("account tables");
    settings
}

/// The server with `settings`, on a free loopback port (not yet serving).
pub async fn loopback_app(settings: Settings) -> Application {
    let mut options = travoiq_monitor::server::config::site::leptos_options().expect("options");
    options.site_addr = "127.0.0.1:0".parse().expect("addr");
    Application::build(settings, options).await.expect("app")
}

/// A live call, through the developer API at `base`; its id.
pub async fn create_call(http: &reqwest::Client, base: &str) -> String {
    let res = http
        .post(format!("{base}/api/dev/calls"))
        .header("x-dev-token", DEV_TOKEN)
        .json(&json!({ "customerPhoneNumber": "+15550100" }))
        .send()
        .await
        .expect("developer API");
    assert_eq!(res.status(), 201, "a call is created");
    let v: Value = res.json().await.expect("json");
    v["contactId"].as_str().expect("id").to_string()
}

/// A process's CPU time (user + system), in seconds, from /proc (`pid`
/// "self": this one).
pub fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // After the command's closing parenthesis: state is field 3, utime 14,
    // stime 15.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / per_sec
}

/// A process's resident memory (VmRSS), in KB (`pid` "self": this one).
pub fn rss_kb(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

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
