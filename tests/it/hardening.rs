//! Security headers, who may open sockets, and that sockets leave nothing
//! behind.

use std::time::Duration;

use crate::common::{eventually, next_msg, plain_client, spawn_app, spawn_app_with, TestApp};
use tokio_tungstenite::tungstenite::Error as WsError;
use travoiq_monitor::protocol::ServerMsg;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_a_nonce_csp_and_every_response_the_safety_headers() {
    let app = spawn_app().await;
    let id = app.create_call("+1").await;
    let res = app.get(&format!("/calls/{id}")).await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries it"
    );

    for path in ["/healthz", "/latest-call", "/details/nope"] {
        let res = app.get(path).await;
        assert_eq!(
            res.headers()["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}

async fn handshake(app: &TestApp, url: &str, origin: Option<&str>) -> Result<(), u16> {
    let mut request = crate::common::ws_request(url, Some(&app.cookie));
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("unexpected {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_from_another_sites_page_are_refused() {
    let app = spawn_app_with(&[("allowed_origins", "https://monitor.example.com")]).await;
    let id = app.create_call("+1").await;
    let url = format!("{}/ws/{id}", app.ws_base);
    let own = app.base.clone();
    assert_eq!(
        handshake(&app, &url, Some("https://evil.example")).await,
        Err(403)
    );
    assert_eq!(
        handshake(
            &app,
            &format!("{}/ws/calls", app.ws_base),
            Some("https://evil.example")
        )
        .await,
        Err(403)
    );
    assert_eq!(handshake(&app, &url, Some(&own)).await, Ok(()));
    assert_eq!(
        handshake(&app, &url, Some("https://monitor.example.com")).await,
        Ok(())
    );
    assert_eq!(
        handshake(&app, &url, None).await,
        Ok(()),
        "non-browser clients send no Origin"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_hold_only_so_many_sockets() {
    let app = spawn_app_with(&[("max_sockets_per_client", "3")]).await;
    let id = app.create_call("+1").await;
    let path = format!("/ws/{id}");
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut ws = app.connect(&path).await;
        assert!(matches!(next_msg(&mut ws).await, ServerMsg::Hello { .. }));
        held.push(ws);
    }
    assert_eq!(
        handshake(&app, &format!("{}{path}", app.ws_base), None).await,
        Err(429)
    );
    drop(held.pop());
    eventually(Duration::from_secs(5), || async {
        (app.sockets.open() == 2).then_some(())
    })
    .await
    .expect("a closed socket gives its place back");
    assert_eq!(
        handshake(&app, &format!("{}{path}", app.ws_base), None).await,
        Ok(())
    );
}

/// TCP connections to or from `port` that are open at either end
/// (established, or closed by the peer and not yet by us): each holds a
/// descriptor. Counted from the kernel's table (Linux; 0 elsewhere), not
/// from this process's descriptors: the tests share one process, and other
/// tests open and close descriptors of their own meanwhile.
fn open_connections(port: u16) -> usize {
    const ESTABLISHED: &str = "01";
    const CLOSE_WAIT: &str = "08";
    let port = format!(":{port:04X}");
    ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let ends = fields.get(1..3).unwrap_or_default();
                    let state = fields.get(3).copied().unwrap_or_default();
                    ends.iter().any(|end| end.ends_with(&port))
                        && [ESTABLISHED, CLOSE_WAIT].contains(&state)
                })
                .collect::<Vec<_>>()
        })
        .filter(|open| *open)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connect_disconnect_cycles_leak_no_tasks_or_sockets() {
    let app = spawn_app_with(&[("max_sockets_per_client", "0")]).await;
    let id = app.create_call("+1").await;
    app.say(&id, "Agent", 0, "Hello", false).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    // Warm up (the feed, the connection pool), then take the baseline.
    for _ in 0..5 {
        let mut ws = app.connect(&format!("/ws/{id}")).await;
        let _ = next_msg(&mut ws).await;
    }
    eventually(Duration::from_secs(10), || async {
        (app.sockets.open() == 0).then_some(())
    })
    .await
    .expect("the warm-up sockets closed");
    let (tasks_before, connections_before) =
        (metrics.num_alive_tasks(), open_connections(app.port));

    for i in 0..1000 {
        let path = if i % 2 == 0 {
            format!("/ws/{id}")
        } else {
            "/ws/calls".to_string()
        };
        let mut ws = app.connect(&path).await;
        let _ = next_msg(&mut ws).await;
        if i % 3 == 0 {
            let _ = ws.close(None).await; // polite
        } // else dropped: the TCP connection just goes away
    }

    let settled = eventually(Duration::from_secs(10), || async {
        (app.sockets.open() == 0
            && metrics.num_alive_tasks() <= tasks_before
            && open_connections(app.port) <= connections_before)
            .then_some(())
    })
    .await;
    println!(
        "after 1000 cycles: sockets open {}, tasks {} (before {tasks_before}), \
         TCP connections of the server's port {} (before {connections_before})",
        app.sockets.open(),
        metrics.num_alive_tasks(),
        open_connections(app.port)
    );
    assert!(
        settled.is_some(),
        "sockets, tasks or connections left behind"
    );
    assert!(app.hub.active_feeds().await <= 1, "no feed per connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_and_delays_nobody() {
    let app = spawn_app_with(&[
        ("ws_send_timeout_secs", "1"),
        ("max_sockets_per_client", "0"),
    ])
    .await;
    let id = app.create_call("+1").await;

    // Connects, then never reads a byte.
    let (_stalled, _) = tokio_tungstenite::connect_async(crate::common::ws_request(
        &format!("{}/ws/{id}", app.ws_base),
        Some(&app.cookie),
    ))
    .await
    .unwrap();
    let mut normal = app.connect(&format!("/ws/{id}")).await;
    assert!(matches!(
        next_msg(&mut normal).await,
        ServerMsg::Hello { .. }
    ));
    assert!(matches!(
        next_msg(&mut normal).await,
        ServerMsg::CaughtUp { .. }
    ));

    // Enough to fill the stalled client's buffers many times over.
    let big = "x".repeat(40_000);
    let mut latencies = Vec::new();
    for i in 0..300i64 {
        let sent = std::time::Instant::now();
        app.say(&id, "Agent", i * 1000, &format!("{i} {big}"), false)
            .await;
        loop {
            if let ServerMsg::Transcript(seg) = next_msg(&mut normal).await {
                assert_eq!(seg.start_ms, i * 1000, "in order, nothing skipped");
                break;
            }
        }
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    println!(
        "normal client beside a stalled one: p50 {:?}, p99 {:?}, max {:?} per 40 KB line",
        latencies[150], latencies[296], latencies[299]
    );

    // The stalled one has been let go; the normal one is still there.
    eventually(Duration::from_secs(10), || async {
        (app.sockets.open() == 1).then_some(())
    })
    .await
    .expect("the stalled socket is let go");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_falls_behind_the_feed_rereads_and_misses_nothing() {
    // A slow reader, not a dead one: it must not be dropped for being slow.
    let app = spawn_app_with(&[
        ("ws_send_timeout_secs", "120"),
        ("max_sockets_per_client", "0"),
    ])
    .await;
    let id = app.create_call("+1").await;
    let mut slow = app.connect(&format!("/ws/{id}")).await;
    assert!(matches!(next_msg(&mut slow).await, ServerMsg::Hello { .. }));
    assert!(matches!(
        next_msg(&mut slow).await,
        ServerMsg::CaughtUp { .. }
    ));

    // While it reads nothing: each line as a short partial, then its final
    // of 40 KB. The finals fill the socket buffers, the feed's bounded
    // queue then overflows, and the viewer must re-read from the store.
    const LINES: i64 = 600;
    let big = "x".repeat(40_000);
    for i in 0..LINES {
        app.say(&id, "Agent", i * 1000, &format!("{i}"), true).await;
        app.say(&id, "Agent", i * 1000, &format!("{i} {big}"), false)
            .await;
    }

    // Now it reads: every line, in order, each final exactly once and never
    // followed by an older state of its line.
    let mut frames = 0;
    let mut last_seq = None;
    let mut finals = Vec::new();
    while finals.len() < LINES as usize {
        if let ServerMsg::Transcript(seg) = next_msg(&mut slow).await {
            frames += 1;
            assert!(last_seq < Some(seg.seq), "positions only grow");
            last_seq = Some(seg.seq);
            assert!(
                !finals.contains(&seg.start_ms),
                "a line after its final: {}",
                seg.start_ms
            );
            if !seg.partial {
                assert!(seg.text.starts_with(&format!("{} ", seg.start_ms / 1000)));
                finals.push(seg.start_ms);
            }
        }
    }
    let expected: Vec<i64> = (0..LINES).map(|i| i * 1000).collect();
    assert_eq!(finals, expected, "every final, in the order written");
    // Fewer frames than writes: some partials were superseded before the
    // viewer got to them, so it really fell behind the queue and re-read
    // the latest states from the store (a viewer fed from the queue alone
    // would get all 1,200).
    assert!(
        frames < 2 * LINES,
        "the viewer never fell behind ({frames} frames): the test proves nothing"
    );
    println!("slow viewer: {frames} frames for {} writes", 2 * LINES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_name_the_server_does_not_answer_for_is_refused() {
    // A page on another name that resolves to this loopback server (DNS
    // rebinding) gets nothing, not even the sign-in page.
    let app = spawn_app().await;
    for path in ["/signin", "/healthz", "/latest-call"] {
        let res = plain_client()
            .get(format!("{}{path}", app.base))
            .header("host", format!("rebound.example:{}", app.port))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 421, "{path}");
    }
    let res = plain_client()
        .get(format!("{}/healthz", app.base))
        .header("host", format!("localhost:{}", app.port))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_developer_api_needs_its_token() {
    let app = spawn_app().await;
    for token in [None, Some("wrong")] {
        let mut req = plain_client()
            .post(format!("{}/api/dev/calls", app.base))
            .json(&serde_json::json!({}));
        if let Some(token) = token {
            req = req.header("x-dev-token", token);
        }
        assert_eq!(req.send().await.unwrap().status(), 403, "{token:?}");
    }
    let res = plain_client()
        .post(format!("{}/api/dev/calls", app.base))
        .header("x-dev-token", crate::common::DEV_TOKEN)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}
