//! Everything that runs only on the server.

pub mod access;
pub mod alerts;
pub mod auth;
pub mod config;
pub mod contact;
pub mod dev_target;
pub mod floor;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod security;
pub mod simulator;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod timestamp;
pub mod writer_server;
