//! Transcript downloads (`/calls/{id}/transcript.{txt,csv,json}`): the
//! same access as the call at every other door, for every role and every
//! format; a long call exported whole and in order; CSV and JSON read back
//! equal to what was said; and the same on the DynamoDB backend.

use std::any::Any;
use std::sync::Arc;

use serde_json::Value;
use travoiq_monitor::model::{CallId, LinkId, Speaker, Username};
use travoiq_monitor::server::auth::grant::Signer;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::memory::MemoryStore;
use travoiq_monitor::server::store::{now_ms, CallSink, SegmentWrite};

use crate::access::{call_for, world_with, World, PHONE_DIGITS, SECRET};
use crate::common::dynamo::{segment, start_call, unique_prefix, writer};
use crate::common::{plain_client, spawn_app, spawn_dynamo_app, TestApp};
use crate::links::share;

const FORMATS: [&str; 3] = ["txt", "csv", "json"];
const UNKNOWN: &str = "00000000-0000-4000-8000-00000000beef";
/// The test server's link secret (so a test can sign an expired grant).
const LINK_SECRET: &str = "export-tests-secret-0123456789abcdef";

/// One download: its status, headers and body.
#[derive(Debug)]
struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    length: Option<u64>,
    body: String,
}

impl Download {
    fn leaks(&self) -> bool {
        self.body.contains(SECRET) || self.body.contains(PHONE_DIGITS)
    }
}

/// `GET /calls/{call}/transcript.{ext}{query}` with `cookie`, if any.
async fn download(
    app: &TestApp,
    cookie: Option<&str>,
    call: &str,
    ext: &str,
    query: &str,
) -> Download {
    let mut req = plain_client().get(format!("{}/calls/{call}/transcript.{ext}{query}", app.base));
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie.to_string());
    }
    let res = req.send().await.unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    Download {
        status: res.status().as_u16(),
        content_type: header("content-type"),
        disposition: header("content-disposition"),
        length: res.content_length(),
        body: String::from_utf8(res.bytes().await.unwrap().to_vec()).unwrap(),
    }
}

async fn world() -> World {
    world_with(&[("secret", LINK_SECRET)]).await
}

fn today_utc() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_and_admins_download_every_call_in_every_format() {
    let w = world().await;
    for cookie in [w.app.cookie.as_str(), w.admin.as_str()] {
        for (call, words) in [(&w.own, "own"), (&w.other, "other")] {
            for ext in FORMATS {
                let d = download(&w.app, Some(cookie), call, ext, "").await;
                assert_eq!(d.status, 200, "{ext}: {d:?}");
                assert!(d.body.contains(&format!("{SECRET} {words}")), "{d:?}");
                let expected_type = match ext {
                    "txt" => "text/plain; charset=utf-8",
                    "csv" => "text/csv; charset=utf-8",
                    _ => "application/json",
                };
                assert_eq!(d.content_type, expected_type);
                assert_eq!(
                    d.disposition,
                    format!(
                        "attachment; filename=\"transcript-{call}-{}.{ext}\"",
                        today_utc()
                    )
                );
                if ext == "json" {
                    let v: Value = serde_json::from_str(&d.body).unwrap();
                    assert_eq!(v["call"]["callId"], call.as_str());
                    assert!(v["call"].to_string().contains(PHONE_DIGITS), "in full");
                }
            }
        }
        // No other format, and nothing of the call in the answer.
        let d = download(&w.app, Some(cookie), &w.own, "xlsx", "").await;
        assert_eq!(d.status, 404, "{d:?}");
        assert!(!d.leaks(), "{d:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_downloads_their_own_call_masked_and_no_one_elses() {
    let w = world().await;
    for ext in FORMATS {
        let own = download(&w.app, Some(&w.agent), &w.own, ext, "").await;
        assert_eq!(own.status, 200, "{ext}: {own:?}");
        assert!(own.body.contains(&format!("{SECRET} own")), "{own:?}");
        assert!(!own.body.contains(PHONE_DIGITS), "{ext} unmasked: {own:?}");
        if ext == "json" {
            let v: Value = serde_json::from_str(&own.body).unwrap();
            assert!(v["call"]["customerPhone"]
                .as_str()
                .unwrap()
                .ends_with("0199"));
        }

        // Another agent's call reads exactly as an unknown one.
        let theirs = download(&w.app, Some(&w.agent), &w.other, ext, "").await;
        let unknown = download(&w.app, Some(&w.agent), UNKNOWN, ext, "").await;
        assert_eq!(theirs.status, 404, "{ext}: {theirs:?}");
        assert!(!theirs.leaks(), "{theirs:?}");
        assert_eq!(theirs.status, unknown.status);
        assert_eq!(theirs.content_type, unknown.content_type);
        assert_eq!(theirs.disposition, "");
        assert_eq!(
            theirs.body.replace(&w.other, "ID"),
            unknown.body.replace(UNKNOWN, "ID")
        );

        // A malformed id: as at the REST door.
        let bad = download(&w.app, Some(&w.agent), "not-a-call", ext, "").await;
        let rest = plain_client()
            .get(format!("{}/details/not-a-call", w.app.base))
            .header("cookie", w.agent.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status, rest.status().as_u16(), "{bad:?}");
        assert_eq!(bad.status, 400);
        assert_eq!(bad.body, rest.text().await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_valid_session_nothing_downloads() {
    let w = world().await;
    for (what, cookie) in [
        ("no session", None),
        ("expired session", Some(w.expired.as_str())),
        ("forged cookie", Some(w.forged.as_str())),
        ("disabled account", Some(w.disabled.as_str())),
    ] {
        for ext in FORMATS {
            let d = download(&w.app, cookie, &w.own, ext, "").await;
            assert_eq!(d.status, 401, "{what} {ext}: {d:?}");
            assert!(!d.leaks(), "{what} {ext}: {d:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_links_grant_downloads_its_call_until_expired_tampered_or_revoked() {
    let w = world().await;
    // Carol's call: neither the agent's nor bob's.
    let carols = call_for(&w.app, "carol", "carol's").await;
    let grant = share(&w.app, &w.app.cookie, &carols, "agent").await;
    // Genuine but expired: the same link, signed with a past expiry.
    let link = LinkId::parse(grant.split('.').next().unwrap()).unwrap();
    let expired = Signer::new(LINK_SECRET.as_bytes()).issue(
        &CallId::parse(&carols).unwrap(),
        &link,
        &Username::parse("agent").unwrap(),
        now_ms() - 1_000,
    );
    // Extended by a day without the secret.
    let parts: Vec<&str> = grant.split('.').collect();
    let later: i64 = parts[1].parse::<i64>().unwrap() + 86_400_000;
    let tampered = format!("{}.{later}.{}", parts[0], parts[2]);

    for ext in FORMATS {
        let ok = download(
            &w.app,
            Some(&w.agent),
            &carols,
            ext,
            &format!("?grant={grant}"),
        )
        .await;
        assert_eq!(ok.status, 200, "{ext}: {ok:?}");
        assert!(ok.body.contains(&format!("{SECRET} carol's")));
        assert!(!ok.body.contains(PHONE_DIGITS), "still masked: {ok:?}");

        // Expired: said so to its holder (410); tampered: not valid (404),
        // whether or not the call exists.
        for (what, g, status, code) in [
            ("expired", &expired, 410, "link_expired"),
            ("tampered", &tampered, 404, "link_not_valid"),
        ] {
            let d = download(&w.app, Some(&w.agent), &carols, ext, &format!("?grant={g}")).await;
            assert_eq!(d.status, status, "{what} {ext}: {d:?}");
            assert!(d.body.contains(code), "{what} {ext}: {d:?}");
            assert!(!d.leaks(), "{what} {ext}: {d:?}");
        }
        // Another agent holding the link, and no session at all.
        let d = download(
            &w.app,
            Some(&w.bob),
            &carols,
            ext,
            &format!("?grant={grant}"),
        )
        .await;
        assert_eq!(d.status, 404, "bob {ext}: {d:?}");
        let d = download(&w.app, None, &carols, ext, &format!("?grant={grant}")).await;
        assert_eq!(d.status, 401, "signed out {ext}: {d:?}");
        // The grant opens its own call only.
        let third = call_for(&w.app, "bob", "third").await;
        let d = download(
            &w.app,
            Some(&w.agent),
            &third,
            ext,
            &format!("?grant={grant}"),
        )
        .await;
        assert_eq!(d.status, 404, "moved {ext}: {d:?}");
    }

    // The call's page, opened from the link, offers downloads carrying it.
    let page = plain_client()
        .get(format!("{}/calls/{carols}?grant={grant}", w.app.base))
        .header("cookie", w.agent.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for ext in FORMATS {
        let href = format!("href=\"/calls/{carols}/transcript.{ext}?grant={grant}\"");
        assert!(page.contains(&href), "{href} not on the page");
    }
    assert!(page.contains("rel=\"external\""));

    // Revoked: nothing more.
    let (status, body) = crate::links::call_fn(
        &w.app,
        Some(&w.app.cookie),
        "links/revoke",
        &[("id", carols.as_str()), ("link", link.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for ext in FORMATS {
        let d = download(
            &w.app,
            Some(&w.agent),
            &carols,
            ext,
            &format!("?grant={grant}"),
        )
        .await;
        assert_eq!(d.status, 404, "revoked {ext}: {d:?}");
    }
}

/// What line `n` of the long call says: now and then something hostile.
fn words(n: i64) -> String {
    match n % 1000 {
        1 => format!("line {n}: \"quoted\", with commas, and\nline breaks"),
        2 => format!("=HYPERLINK(\"http://evil\",\"line {n}\")"),
        3 => format!("<script>alert({n})</script> ünïcödé ☎ 日本語"),
        4 => format!("-{n} @SUM(A1) +1"),
        _ => format!("line {n}"),
    }
}

/// A strict RFC 4180 reader: quotes doubled inside quoted cells, nothing
/// after a closing quote but a comma or the end of the row (CRLF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut cell = String::new();
    let (mut quoted, mut closed) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => (quoted, closed) = (false, true),
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() && !closed => quoted = true,
            (false, ',') => {
                row.push(std::mem::take(&mut cell));
                closed = false;
            }
            (false, '\r') if chars.next() == Some('\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
                closed = false;
            }
            (false, c) => {
                assert!(!closed && c != '"' && c != '\r' && c != '\n', "stray {c:?}");
                cell.push(c);
            }
        }
    }
    assert!(
        !quoted && cell.is_empty() && row.is_empty(),
        "the last row ends"
    );
    rows
}

/// As a spreadsheet would need it: a formula-like cell with an apostrophe.
fn defused(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn seconds(ms: i64) -> String {
    format!("{}.{:02}", ms / 1000, (ms % 1000) / 10)
}

const LONG: i64 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_thousand_line_call_downloads_whole_and_in_order() {
    let app = spawn_app().await;
    let id = app.create_call("+14155550123").await;
    let store: Arc<dyn Any + Send + Sync> =
        travoiq_monitor::server::store::metered::backend(app.hub.store());
    let store = store.downcast::<MemoryStore>().expect("the embedded store");
    let call = CallId::parse(&id).unwrap();
    // Written last line first: the file follows the conversation, not the
    // order of the writes. Line n starts at n seconds, lasts 0.75 s.
    for n in (0..LONG).rev() {
        let speaker = if n % 2 == 0 {
            Speaker::Customer
        } else {
            Speaker::Agent
        };
        store
            .write_segment(
                &call,
                SegmentWrite {
                    speaker,
                    segment_id: format!("s{n}"),
                    start_ms: n * 1000,
                    end_ms: n * 1000 + 750,
                    text: words(n),
                    partial: false,
                },
            )
            .await
            .unwrap();
    }
    // And one still growing at the end.
    app.say(&id, "Agent", LONG * 1000, "still talk", true).await;
    let speaker = |n: i64| if n % 2 == 0 { "Customer" } else { "Agent" };

    let csv = download(&app, Some(&app.cookie), &id, "csv", "").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.length, None, "streamed, not sized up front");
    let body = csv.body.strip_prefix('\u{FEFF}').expect("a BOM first");
    let rows = parse_csv(body);
    assert_eq!(rows[0], ["speaker", "start", "end", "text", "alerts"]);
    assert_eq!(rows.len() as i64, LONG + 1, "every final line, no partial");
    for (n, row) in (0..LONG).zip(&rows[1..]) {
        let expected = [
            speaker(n).to_string(),
            seconds(n * 1000),
            seconds(n * 1000 + 750),
            defused(&words(n)),
            String::new(),
        ];
        assert_eq!(row[..], expected[..], "row {n}");
    }
    assert_eq!(rows[1][3], "line 0");
    assert_eq!(rows[LONG as usize][3], format!("line {}", LONG - 1));

    let json = download(&app, Some(&app.cookie), &id, "json", "").await;
    let v: Value = serde_json::from_str(&json.body).expect("valid JSON");
    let segments = v["segments"].as_array().unwrap();
    assert_eq!(segments.len() as i64, LONG + 1, "the partial too, marked");
    for (n, s) in (0..LONG).zip(segments) {
        assert_eq!(s["speaker"], speaker(n));
        assert_eq!(s["startMs"], n * 1000);
        assert_eq!(s["endMs"], n * 1000 + 750);
        assert_eq!(s["start"].as_f64().unwrap(), n as f64);
        assert_eq!(s["text"], words(n).as_str(), "raw text in JSON");
        assert_eq!(s["partial"], false);
        assert_eq!(s["alerts"], serde_json::json!([]));
    }
    let last = &segments[LONG as usize];
    assert_eq!(
        (last["text"].as_str(), last["partial"].as_bool()),
        (Some("still talk"), Some(true))
    );
    assert_eq!(v["call"]["callId"], id.as_str());

    let txt = download(&app, Some(&app.cookie), &id, "txt", "").await;
    let lines: Vec<&str> = txt.body.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len() as i64, LONG, "one line per final segment");
    assert_eq!(lines[0], "[00:00.0 - 00:00.8] Customer: line 0");
    assert_eq!(
        lines[LONG as usize - 1],
        format!("[166:39.0 - 166:39.8] Agent: line {}", LONG - 1)
    );
    assert!(
        lines[1].ends_with("line 1: \"quoted\", with commas, and line breaks"),
        "{}",
        lines[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_the_download_reads_the_tables() {
    let prefix = unique_prefix("export");
    let writer = writer(&prefix, WriterFormat::ConnectRt, false).await;
    let app = spawn_dynamo_app(&prefix, &[("dynamodb_poll_ms", "100")]).await;
    let id = start_call(&writer, true).await;
    // Out of order, across both tables, one revised in place.
    let lines = [
        (Speaker::Agent, 3_000, "agent, second"),
        (Speaker::Customer, 1_000, "customer \"first\""),
        (Speaker::Customer, 5_000, "=customer third"),
    ];
    for (speaker, start, text) in lines {
        writer
            .write_segment(&id, segment(speaker, start, 900, "draft", true))
            .await
            .unwrap();
        writer
            .write_segment(&id, segment(speaker, start, 900, text, false))
            .await
            .unwrap();
    }
    let id = id.to_string();
    let csv = download(&app, Some(&app.cookie), &id, "csv", "").await;
    assert_eq!(csv.status, 200, "{csv:?}");
    let rows = parse_csv(csv.body.trim_start_matches('\u{FEFF}'));
    let texts: Vec<&str> = rows[1..].iter().map(|r| r[3].as_str()).collect();
    assert_eq!(
        texts,
        ["customer \"first\"", "agent, second", "'=customer third"]
    );
    let json = download(&app, Some(&app.cookie), &id, "json", "").await;
    let v: Value = serde_json::from_str(&json.body).unwrap();
    let got: Vec<(String, i64)> = v["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["speaker"].as_str().unwrap().to_string(),
                s["startMs"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Customer".to_string(), 1_000),
            ("Agent".to_string(), 3_000),
            ("Customer".to_string(), 5_000)
        ]
    );
    assert_eq!(v["call"]["customerPhone"], "+14155550123");
}
