//! m365guard-emulator: a local stand-in for Entra ID's token endpoint, Microsoft Graph
//! (v1.0, beta, `$batch`) and the Exchange Online admin API (`InvokeCommand`), speaking the
//! shapes, casing, status codes and quirks of `shared/m365-api/CONTRACT.md`. For tests,
//! benchmarks and demos of m365guard's live collection and fix mode.
//!
//! ```no_run
//! use m365guard_emulator::{spawn, EmulatorConfig};
//! let cfg = EmulatorConfig::from_scenario_file("tests/emulator/scenarios/fixtures.toml".as_ref()).unwrap();
//! let emu = spawn(cfg).unwrap();
//! // authority host = Graph base = Exchange base = emu.base_url
//! println!("{}", emu.base_url);
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod app_policies;
pub mod apps;
pub mod audit_logs;
pub mod audit_query;
pub mod auth_methods;
pub mod batch;
pub mod config;
pub mod crypto;
pub mod device_code;
pub mod exchange;
pub mod exo_batch;
pub mod exo_delegation;
pub mod exo_folders;
pub mod exo_message_trace;
pub mod exo_params;
pub mod exo_protocols;
pub mod graph;
pub mod hostile;
pub mod http;
pub mod odata;
pub mod pim;
pub mod respond;
pub mod risk_detections;
pub mod server;
pub mod setup_endpoints;
pub mod state;
pub mod token;
pub mod util;

pub use config::{
    AppRegistration, ConfigError, EmulatorConfig, Faults, FederatedCredential, FicErrorStyle,
    FolderFormat, Grants, Licences, Options,
};
pub use server::{spawn, spawn_on, Emulator, RequestRecord, Service, WriteOp};
pub use state::TenantState;
