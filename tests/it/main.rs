//! The integration tests, one binary: each module links the whole crate
//! (with the AWS SDK), so one binary instead of one per file saves a link
//! and a hundred megabytes each. The tests share one process: what one sets
//! for the whole process (the environment, a tracing subscriber) it must
//! set for all alike, or scope to itself (see `common`). The tests that
//! read what the server logs are a binary of their own (`tests/logging.rs`):
//! tracing's callsite cache is process-wide, and a test thread without a
//! subscriber can make another thread's subscriber miss events.

mod common;

mod access;
mod access_dynamo;
mod alerts_dynamo;
mod balancer;
mod bundle_name;
mod create_tables;
mod dynamo_app;
mod export;
mod hardening;
mod http_api;
mod links;
mod live_socket;
mod metrics;
mod parsing_props;
mod shutdown;
mod slow_call;
mod sso;
mod store_contract;
mod stream_fallback;
mod stream_faults;
mod upstream_faults;
mod writer_server;
