//! The versioned snapshot document: schema types (`model`), stable read/write (`io`) and
//! resource line lookup (`locate`). `m365guard schema` prints the JSON Schema.

pub mod io;
pub mod locate;
pub mod model;
pub mod source;

pub use io::{load, LoadedSnapshot, SnapshotError};
pub use model::*;

/// The JSON Schema of the snapshot document.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Snapshot)).unwrap_or_default()
}
