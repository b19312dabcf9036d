//! The one integration-test binary (as ripgrep does it): every file of `tests/` is a module
//! here, sharing one harness (`harness`: paths, the emulator, the binary with a clean
//! environment, leak assertions) and linking once. `architecture::every_test_file_is_a_module`
//! fails when a `tests/*.rs` file is not declared below (Cargo's `autotests` is off, so it
//! would otherwise never run).

mod harness;
mod report_fixture;

mod app_policies;
mod app_roles;
mod apps;
mod architecture;
mod auth_methods;
mod browser;
mod ci_examples;
mod cli;
mod config;
mod delegation;
mod doctor;
mod drift;
mod examples;
mod exchange_writes;
mod exo_batch;
mod exo_rbac;
mod exports;
mod fix;
mod fix_config;
mod fix_plan;
mod folders;
mod frameworks;
mod fuzz;
mod history;
mod hostile;
mod investigate;
mod investigate_audit;
mod investigate_risk;
mod leaks;
mod live;
mod live_auth;
mod live_batch;
mod live_faults;
mod logging;
mod mail_protocols;
mod mailflow;
mod permissions;
mod pim;
mod policy_pack;
mod reports;
mod respond_consents;
mod respond_investigation;
mod rolegroups;
mod sarif_schema;
mod scan_activity;
mod setup;
mod since_reports;
mod sources;
