//! m365guard: policy-as-code compliance scanning and remediation for Microsoft 365 tenants.
//!
//! Data flow: a `snapshot` (collected tenant state) is evaluated by the `policy` engine
//! (Rego via regorus) into `findings`, which `report` renders. Rules never touch the network.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod activity;
pub mod auth;
pub mod baseline;
pub mod cli;
pub mod collect;
pub mod config;
pub mod diagnostic;
pub mod doctor;
pub mod drift;
pub mod exchange;
pub mod findings;
pub mod fix;
pub mod graph;
pub mod history;
pub mod http;
pub mod investigate;
pub mod permission;
pub mod policy;
pub mod prefetch;
pub mod profile;
pub mod report;
pub mod scan;
pub mod setup;
pub mod severity;
pub mod since;
pub mod snapshot;
pub mod synthetic;
