//! Everything that runs only on the server.

pub mod auth;
pub mod config;
pub mod contact;
pub mod dev_api;
pub mod hub;
pub mod queries;
pub mod rest;
pub mod security;
pub mod simulator;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod timestamp;
pub mod ws;
