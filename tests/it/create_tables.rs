//! Creating tables waits until they are ACTIVE. Real DynamoDB keeps a new
//! table CREATING for a while, and reads and writes meanwhile fail with
//! "table does not exist": the README's next command after
//! `accounts create-tables` (adding an account), or the writer's first
//! call after `--create-tables`, would fail. moto makes tables ACTIVE at
//! once; dynalite (npm, installed into .tools by scripts/setup) keeps them
//! CREATING for `--createTableMs`, as DynamoDB does.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::CallSink;

use crate::common::dynamo::{
    contact, free_port, in_turn, line, new_call_id, now_rfc3339, tables, unique_prefix,
};

/// How long dynalite keeps a new table CREATING.
const CREATING_MS: u64 = 1000;

/// dynalite on a free loopback port, stopped when dropped.
struct Dynalite {
    endpoint: String,
    child: Child,
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dynalite() -> Dynalite {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/node_modules/.bin/dynalite");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/setup --with-browser (it installs dynalite from npm)",
        bin.display()
    );
    let port = free_port();
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--createTableMs", &CREATING_MS.to_string()])
        .args(["--deleteTableMs", "0", "--updateTableMs", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dynalite starts (is node installed?)");
    let server = Dynalite {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "dynalite did not listen within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// The server binary (built by cargo for these tests) with only the
/// environment given: nothing from this process's (which other tests set).
fn monitor(endpoint: &str, prefix: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_travoiq-monitor"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("TRAVOIQ_STORE", "dynamodb")
        .env("TRAVOIQ_TABLE_PREFIX", prefix)
        .env("TRAVOIQ_AUDIT_LOG", "off")
        .current_dir(std::env::temp_dir());
    command
}

fn run(command: &mut Command, stdin: &str) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    let out = child.wait_with_output().expect("it ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_create_tables_returns_once_an_account_can_be_added() {
    let dynalite = dynalite();
    let prefix = unique_prefix("created");
    let started = Instant::now();
    let (ok, out) = run(
        monitor(&dynalite.endpoint, &prefix).args(["accounts", "create-tables"]),
        "",
    );
    assert!(ok, "create-tables failed:\n{out}");
    let took = started.elapsed();
    let created = out;
    // At once, as the README's next step.
    let (ok, out) = run(
        monitor(&dynalite.endpoint, &prefix).args([
            "accounts",
            "add",
            "ana",
            "--role",
            "supervisor",
            "--password-stdin",
        ]),
        "a-long-enough-password\n",
    );
    assert!(
        ok,
        "adding an account right after create-tables failed:\n{out}"
    );
    assert!(out.contains("added ana"), "{out}");
    assert!(
        took >= Duration::from_millis(CREATING_MS),
        "create-tables returned before the tables could be ACTIVE:\n{created}"
    );
    assert!(
        created.contains("tables ready (ACTIVE)") && created.contains("until it was ACTIVE"),
        "create-tables does not say it waited:\n{created}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_writes_at_once_into_tables_it_created() {
    let dynalite = dynalite();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(&dynalite.endpoint)
        .build();
    let writer = DynamoWriter::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        tables(&unique_prefix("created")),
        WriterFormat::ConnectRt,
    );
    // What `travoiq-monitor writer --create-tables` does first.
    writer.create_tables().await.expect("tables created");
    let id = new_call_id();
    writer
        .start_call(contact(&id, Some(now_rfc3339())))
        .await
        .expect("a call written right after the tables were created");
    for n in 0..2 {
        writer
            .write_segment(&id, line(in_turn(n), n * 1000, "hello"))
            .await
            .expect("a line written right after the tables were created");
    }
}
