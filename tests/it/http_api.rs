//! The seed's REST endpoints and the server functions, over real HTTP.

use crate::common::{plain_client, sign_in_at, spawn_app, spawn_app_with, DEMO_PASSWORD};
use serde_json::{json, Value};
use travoiq_monitor::error::AppError;
use travoiq_monitor::model::{CallSnapshot, Speaker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_answers() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_call_is_404_with_a_json_body_before_the_first_call() {
    let app = spawn_app().await;
    let res = app.get("/latest-call").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "no_call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_call_names_the_newest_call_by_its_parsed_timestamp() {
    let app = spawn_app().await;
    // String order says the January call is newer ("Thu" > "Sat"); time says February.
    let feb = app
        .create_call_with(
            json!({ "attributes": { "callTimestamp": "Sat Feb 04 2023 09:00:00 GMT+0000" } }),
        )
        .await;
    let _jan = app
        .create_call_with(json!({ "attributes": { "callTimestamp": "Thu Jan 05 2023 12:28:53 GMT-0500 (Eastern Standard Time)" } }))
        .await;
    let v: Value = app.get("/latest-call").await.json().await.unwrap();
    assert_eq!(v["contactId"], feb.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_answers_the_item_under_its_table_names() {
    let app = spawn_app().await;
    let id = app
        .create_call_with(json!({
            "customerPhoneNumber": "+14155550123",
            "attributes": { "mergeStatus": "pending", "audioFromCustomer": "s3://bucket/a.wav" }
        }))
        .await;
    let res = app.get(&format!("/details/{id}")).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["contactId"], id.as_str());
    assert_eq!(v["customerPhoneNumber"], "+14155550123");
    assert!(v["callTimestamp"].as_str().unwrap().contains("GMT"));
    assert_eq!(v["mergeStatus"], "pending");
    assert_eq!(v["audioFromCustomer"], "s3://bucket/a.wav");

    // The id is accepted in upper case and answered in canonical form.
    let v: Value = app
        .get(&format!("/details/{}", id.to_uppercase()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["contactId"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_get_400_unknown_ids_404_each_with_a_json_error() {
    let app = spawn_app().await;
    for bad in [
        "nope",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "0f8fad5b-d9cb-469f-a165-70867728950",
        "%F0%9F%98%80%F0%9F%98%80",
        &"a".repeat(2000),
    ] {
        let res = app.get(&format!("/details/{bad}")).await;
        assert_eq!(res.status(), 400, "{bad}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"], "malformed_call_id");
        let message = v["message"].as_str().unwrap();
        assert!(
            message.chars().count() < 200,
            "echoes at most a short prefix"
        );
    }
    let res = app
        .get("/details/0f8fad5b-d9cb-469f-a165-70867728950e")
        .await;
    assert_eq!(res.status(), 404);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"], "unknown_call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_function_returns_the_snapshot_in_conversation_order() {
    let app = spawn_app().await;
    let id = app.create_call("+14155550100").await;
    app.say(&id, "Agent", 2000, "Second", false).await;
    app.say(&id, "Customer", 500, "First", true).await;
    app.say(&id, "Customer", 500, "First, grown", false).await;

    let res = app
        .http
        .post(format!("{}/api/call", app.base))
        .form(&[("id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let snap: CallSnapshot = res.json().await.unwrap();
    assert_eq!(snap.details.call_id.as_str(), id);
    let lines: Vec<_> = snap
        .segments
        .iter()
        .map(|s| (s.speaker, s.text.as_str(), s.partial))
        .collect();
    assert_eq!(
        lines,
        [
            (Speaker::Customer, "First, grown", false),
            (Speaker::Agent, "Second", false)
        ]
    );
    assert_eq!(snap.last_seq.0, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_function_errors_are_typed() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(format!("{}/api/call", app.base))
        .form(&[("id", "<b>bad</b>")])
        .send()
        .await
        .unwrap();
    // Bad input is the client's error, with the status every door gives it.
    assert_eq!(res.status(), 400);
    let err: AppError = res.json().await.unwrap();
    assert!(matches!(err, AppError::InvalidCallId { .. }), "{err:?}");
    let unknown = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let res = app
        .http
        .post(format!("{}/api/call", app.base))
        .form(&[("id", unknown)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let err: AppError = res.json().await.unwrap();
    assert!(matches!(err, AppError::UnknownCall(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_carry_call_data_are_never_cached() {
    let app = spawn_app().await;
    let id = app.create_call("+14155550199").await;
    let page = app.get(&format!("/calls/{id}")).await;
    let rest = app.get(&format!("/details/{id}")).await;
    let call = app
        .http
        .post(format!("{}/api/call", app.base))
        .form(&[("id", id.as_str())])
        .send()
        .await
        .unwrap();
    for (what, res) in [("page", page), ("REST", rest), ("server function", call)] {
        assert_eq!(res.status(), 200, "{what}");
        assert_eq!(
            res.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_renders_on_the_server_with_the_call_and_its_transcript_as_text() {
    let app = spawn_app().await;
    let id = app.create_call("+14155550199").await;
    app.say(
        &id,
        "Customer",
        0,
        "<script>alert('x')</script> & <b>bold</b>",
        false,
    )
    .await;
    let res = app.get(&format!("/calls/{id}")).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(&id));
    assert!(html.contains("+14155550199"));
    assert!(
        html.contains("&lt;script&gt;alert"),
        "transcript text is escaped"
    );
    assert!(!html.contains("<script>alert"), "never raw");
    assert!(!html.contains("<b>bold</b>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_are_404() {
    let app = spawn_app().await;
    assert_eq!(app.get("/no/such/page").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_past_their_request_budget_is_told_when_to_come_back() {
    let app = spawn_app_with(&[("requests_per_minute", "5")]).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = app.get("/latest-call").await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=12).contains(&retry), "{retry}");
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["error"], "too_many_requests");
        }
    }
    // The budget runs out, then 429s.
    assert!(statuses[..3].iter().all(|s| *s != 429), "{statuses:?}");
    assert!(statuses[6..].iter().all(|s| *s == 429), "{statuses:?}");
    // Someone else is not held up, nor is an open path.
    let other = sign_in_at(&app.base, "agent", DEMO_PASSWORD).await.unwrap();
    let res = app
        .http
        .get(format!("{}/latest-call", app.base))
        .header("cookie", other)
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 429);
    let res = plain_client()
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_compressed_for_browsers_that_accept_it() {
    let app = spawn_app().await;
    let id = app.create_call("+14155550199").await;
    for encoding in ["gzip", "br"] {
        let res = app
            .http
            .get(format!("{}/calls/{id}", app.base))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-encoding"], encoding);
    }
    // Without it, plain.
    let res = app.get(&format!("/calls/{id}")).await;
    assert!(!res.headers().contains_key("content-encoding"));
}
