//! Evidence: what a target looked like before m365guard changed it (the full inbox rule
//! definition, the mailbox's forwarding, the role assignment), and for `respond` the
//! user's whole collected state. Files in `--evidence DIR`, created 0600, and never
//! overwritten: a second run into the same directory gets `name-2.json`, `name-3.json`, …

use std::fs::OpenOptions;
use std::io::Write;
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

    /// Write `value` as pretty JSON to `<dir>/<name>.json` (or the first free
    /// `<name>-N.json`); returns the path.
    pub fn save(&self, name: &str, value: &impl Serialize) -> std::io::Result<PathBuf> {
        let mut text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
        text.push(b'\n');
        self.save_bytes(name, "json", &text)
    }

    /// Write `bytes` to `<dir>/<name>.<ext>` without ever replacing an existing file.
    pub fn save_bytes(&self, name: &str, ext: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
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
        for n in 1u32.. {
            let file = if n == 1 {
                format!("{safe}.{ext}")
            } else {
                format!("{safe}-{n}.{ext}")
            };
            let path = self.dir.join(file);
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(mut f) => {
                    f.write_all(bytes)?;
                    f.sync_all()?;
                    return Ok(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("cannot write evidence {}: {e}", path.display()),
                    ))
                }
            }
        }
        Err(std::io::Error::other("no free evidence file name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let ev = Evidence::create(dir.path()).unwrap();
        let a = ev.save("a01 x", &serde_json::json!({"n": 1})).unwrap();
        let b = ev.save("a01 x", &serde_json::json!({"n": 2})).unwrap();
        assert_ne!(a, b);
        assert!(a.ends_with("a01_x.json") && b.ends_with("a01_x-2.json"));
        assert!(std::fs::read_to_string(&a).unwrap().contains("1"));
        assert!(std::fs::read_to_string(&b).unwrap().contains("2"));
    }
}
