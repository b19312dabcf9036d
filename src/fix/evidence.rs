//! Evidence: what a target looked like before m365guard changed it (the full inbox rule
//! definition, the mailbox's forwarding, the role assignment), and for `respond` the
//! user's whole collected state. JSON files in `--evidence DIR`, created 0600.

use std::path::{Path, PathBuf};

use serde::Serialize;

pub struct Evidence {
    dir: PathBuf,
}

impl Evidence {
    pub fn create(dir: &Path) -> std::io::Result<Evidence> {
        std::fs::create_dir_all(dir).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot create evidence directory {}: {e}", dir.display()),
            )
        })?;
        Ok(Evidence {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write `value` as pretty JSON to `<dir>/<name>.json`; returns the path.
    pub fn save(&self, name: &str, value: &impl Serialize) -> std::io::Result<PathBuf> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = self.dir.join(format!("{safe}.json"));
        let mut text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
        text.push(b'\n');
        crate::snapshot::io::write_private(&path, &text)?;
        Ok(path)
    }
}
