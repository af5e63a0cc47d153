//! The server binary built by plain cargo (as `cargo build --release` or
//! `cargo bench` leave it: no cargo-leptos) names its browser bundle as
//! cargo-leptos writes it: the page loads `/pkg/travoiq-monitor.js` and
//! `/pkg/travoiq-monitor.wasm`, not `/pkg/.js` or `/pkg/…_bg.wasm`. The
//! binary this test runs is the one cargo built for the integration tests,
//! the same way; no second build. (scripts/check-readme-commands fetches
//! every file the release server's page names from the built site.)

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::dynamo::free_port;

/// The server process, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_cargo_build_serves_pages_that_load_the_named_bundle() {
    let dir = std::env::temp_dir().join(format!("travoiq-bundle-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_travoiq-monitor"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LEPTOS_") || key.starts_with("TRAVOIQ_") {
            command.env_remove(key);
        }
    }
    let _server = Server(
        command
            .current_dir(&dir)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("TRAVOIQ_SIMULATOR", "off")
            .env("TRAVOIQ_DEMO_USERS", "off")
            .env("TRAVOIQ_AUDIT_LOG", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server binary"),
    );

    let url = format!("http://127.0.0.1:{port}/signin");
    let started = Instant::now();
    let page = loop {
        match reqwest::get(&url).await {
            Ok(res) if res.status().is_success() => break res.text().await.expect("page"),
            _ if started.elapsed() > Duration::from_secs(30) => {
                panic!("the server binary did not answer {url} within 30 s")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        page.contains("/pkg/travoiq-monitor.js"),
        "the page does not load /pkg/travoiq-monitor.js:\n{page}"
    );
    assert!(
        page.contains("/pkg/travoiq-monitor.wasm"),
        "the page does not load /pkg/travoiq-monitor.wasm:\n{page}"
    );
    assert!(
        !page.contains("/pkg/.") && !page.contains("_bg.wasm"),
        "the page names a bundle cargo-leptos does not write:\n{page}"
    );
}
