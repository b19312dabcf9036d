//! Temporary passwords for `reset_password`: generated from the OS CSPRNG, delivered only
//! to a file created with mode 0600 (or printed once with `--reveal-password`), never to a
//! plan, audit log, evidence file, report or error message.
//!
//! The password is written and fsync'd *before* the reset is sent, so a crash between the
//! two can never leave an account with a password nobody has.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::auth::Secret;

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"!#%+-=?@^_";
pub const LENGTH: usize = 20;

/// A uniformly random index below `n` (rejection sampling: no modulo bias).
fn random_below(n: usize) -> std::io::Result<usize> {
    let limit = 256 - (256 % n);
    loop {
        let mut byte = [0u8; 1];
        getrandom::getrandom(&mut byte).map_err(std::io::Error::other)?;
        if usize::from(byte[0]) < limit {
            return Ok(usize::from(byte[0]) % n);
        }
    }
}

/// A password meeting Entra ID complexity (8–256 characters, all four character classes),
/// without look-alike characters (0/O, 1/l/I) since a person may have to type it.
pub fn generate() -> std::io::Result<Secret> {
    let classes = [UPPER, LOWER, DIGITS, SYMBOLS];
    let all: Vec<u8> = classes.concat();
    let mut chars: Vec<u8> = Vec::with_capacity(LENGTH);
    for class in classes {
        chars.push(class[random_below(class.len())?]);
    }
    while chars.len() < LENGTH {
        chars.push(all[random_below(all.len())?]);
    }
    // Fisher–Yates, so the guaranteed classes are not always in front.
    for i in (1..chars.len()).rev() {
        chars.swap(i, random_below(i + 1)?);
    }
    Ok(Secret::new(
        chars.into_iter().map(char::from).collect::<String>(),
    ))
}

/// Where new passwords go.
pub enum PasswordSink {
    /// Appended to a 0600 file, one `upn<TAB>password` line each.
    File { path: PathBuf, file: Option<File> },
    /// Printed once to the terminal (`--reveal-password`).
    Reveal,
}

impl PasswordSink {
    pub fn file(path: &Path) -> PasswordSink {
        PasswordSink::File {
            path: path.to_owned(),
            file: None,
        }
    }

    /// Hand over a password before it is set. Fails (and the reset is not sent) when it
    /// cannot be stored safely.
    pub fn deliver(&mut self, upn: &str, password: &Secret) -> std::io::Result<()> {
        match self {
            PasswordSink::Reveal => {
                println!("New temporary password for {upn}: {}", password.expose());
                println!("  (shown once; the user must change it at next sign-in — do not send it by email)");
                Ok(())
            }
            PasswordSink::File { path, file } => {
                let f = match file {
                    Some(f) => f,
                    None => file.insert(open_private(path)?),
                };
                writeln!(f, "{upn}\t{}", password.expose())?;
                f.sync_all()
            }
        }
    }

    /// Record that the last password handed over for `upn` was not applied.
    pub fn not_applied(&mut self, upn: &str, why: &str) {
        match self {
            PasswordSink::Reveal => println!("  (the password above for {upn} was NOT set: {why})"),
            PasswordSink::File { file: Some(f), .. } => {
                let _ = writeln!(f, "# the line above for {upn} was NOT applied: {why}");
                let _ = f.sync_all();
            }
            PasswordSink::File { file: None, .. } => {}
        }
    }

    /// The file written, if any password went to one.
    pub fn written_file(&self) -> Option<&Path> {
        match self {
            PasswordSink::File {
                path,
                file: Some(_),
            } => Some(path),
            _ => None,
        }
    }
}

/// Open for appending, creating with 0600; an existing file must already be private.
fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        options.mode(0o600);
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.mode() & 0o077 != 0 {
                return Err(std::io::Error::other(format!(
                    "{} is readable by other users (mode {:o}); refusing to write passwords to it",
                    path.display(),
                    meta.mode() & 0o777
                )));
            }
        }
    }
    options.open(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot open password file {}: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_meet_complexity_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        for p in [&a, &b] {
            let s = p.expose();
            assert_eq!(s.len(), LENGTH);
            assert!(s.bytes().any(|c| UPPER.contains(&c)));
            assert!(s.bytes().any(|c| LOWER.contains(&c)));
            assert!(s.bytes().any(|c| DIGITS.contains(&c)));
            assert!(s.bytes().any(|c| SYMBOLS.contains(&c)));
        }
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    #[cfg(unix)]
    fn file_is_private_and_refuses_shared_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.txt");
        let mut sink = PasswordSink::file(&path);
        sink.deliver("a@contoso.com", &Secret::new("Xy3!xxxxxxxx"))
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("a@contoso.com\tXy3!xxxxxxxx"));

        let shared = dir.path().join("shared.txt");
        std::fs::write(&shared, "").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = PasswordSink::file(&shared)
            .deliver("a@contoso.com", &Secret::new("x"))
            .unwrap_err();
        assert!(err.to_string().contains("readable by other users"), "{err}");
    }
}
