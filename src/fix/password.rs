//! Temporary passwords for `reset_password`: generated from the OS CSPRNG, delivered only
//! to a file created with mode 0600 (or printed once with `--reveal-password`), never to a
//! plan, audit log, evidence file, report or error message.
//!
//! The password is written and fsync'd *before* the reset is sent, so a crash between the
//! two can never leave an account with a password nobody has.
//!
//! The file is opened without following a symlink (`O_NOFOLLOW`) and checked on the open
//! descriptor: a regular file with one link, owned by us, mode 0600 (created so; an
//! existing file readable by others is refused), holding nothing but lines m365guard
//! wrote. A UPN that could break the line format (tab, newline, control characters) is
//! refused before anything is written.

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
                if upn.is_empty() || upn.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "refusing to write a password for an identifier with whitespace or control characters (it would break the file's line format)",
                    ));
                }
                let f = match file {
                    Some(f) => f,
                    None => file.insert(open_password_file(path)?),
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

/// What to do with an existing file that other users may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LooseMode {
    /// Refuse it: what it already holds has been exposed (password files).
    Refuse,
    /// `chmod 0600` it through the open descriptor (audit logs: tenant state, no secrets).
    Tighten,
}

/// Open `path` for appending, created 0600, never through a symlink, only if it is a
/// regular file with one link that this user owns. `what` names the file in errors.
pub fn open_private_append(path: &Path, what: &str, loose: LooseMode) -> std::io::Result<File> {
    let fail = |kind: std::io::ErrorKind, why: String| {
        std::io::Error::new(kind, format!("{what} {}: {why}", path.display()))
    };
    let mut options = std::fs::OpenOptions::new();
    // Readable too: the password file's existing content is checked before appending.
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
        // The last component must not be a symlink (ELOOP); a FIFO must not block.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return fail(
                std::io::ErrorKind::PermissionDenied,
                "is a symbolic link; refusing to write through it (give the real path)".into(),
            );
        }
        fail(e.kind(), format!("cannot open: {e}"))
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(fail(
            std::io::ErrorKind::PermissionDenied,
            "is not a regular file; refusing".into(),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(fail(
                std::io::ErrorKind::PermissionDenied,
                format!("is owned by another user (uid {}); refusing", meta.uid()),
            ));
        }
        if meta.nlink() > 1 {
            return Err(fail(
                std::io::ErrorKind::PermissionDenied,
                "has other hard links (it is also another file); refusing".into(),
            ));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            match loose {
                LooseMode::Refuse => {
                    return Err(fail(
                        std::io::ErrorKind::PermissionDenied,
                        format!("is readable by other users (mode {mode:o}); refusing to write passwords to it"),
                    ))
                }
                LooseMode::Tighten => {
                    file.set_permissions(std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| fail(e.kind(), format!("mode {mode:o} is too open and cannot be tightened to 600: {e}")))?;
                    tracing::warn!(file = %path.display(), "tightened mode {mode:o} to 600");
                }
            }
        }
    }
    Ok(file)
}

/// Whether `line` is one m365guard writes to a password file.
fn is_password_line(line: &str) -> bool {
    line.starts_with("# the line above for ")
        || line.split_once('\t').is_some_and(|(upn, pw)| {
            super::plan::is_upn(upn) && !pw.is_empty() && !pw.contains(char::is_whitespace)
        })
}

/// The password file: private, and if it already exists, holding only password lines —
/// never a password appended to a file with other content (a mistyped `--password-file
/// ~/.bashrc` must not end up there).
fn open_password_file(path: &Path) -> std::io::Result<File> {
    use std::io::Read;
    let file = open_private_append(path, "password file", LooseMode::Refuse)?;
    let mut existing = String::new();
    let mut reader = (&file).take(16 << 20);
    let unrelated = match reader.read_to_string(&mut existing) {
        Ok(_) => existing.lines().any(|l| !is_password_line(l)),
        Err(_) => true,
    };
    if unrelated {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "password file {} already holds other content; refusing to append a password to it (give a new file)",
                path.display()
            ),
        ));
    }
    Ok(file)
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

    #[test]
    #[cfg(unix)]
    fn symlinks_foreign_content_and_bad_upns_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "keep me\n").unwrap();
        let link = dir.path().join("pw.txt");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = PasswordSink::file(&link)
            .deliver("a@contoso.com", &Secret::new("Xy3!xxxxxxxx"))
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");

        let other = dir.path().join("other.txt");
        std::fs::write(&other, "export PATH=/usr/bin\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = PasswordSink::file(&other)
            .deliver("a@contoso.com", &Secret::new("Xy3!xxxxxxxx"))
            .unwrap_err();
        assert!(err.to_string().contains("other content"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&other).unwrap(),
            "export PATH=/usr/bin\n"
        );

        let fresh = dir.path().join("fresh.txt");
        let mut sink = PasswordSink::file(&fresh);
        let err = sink
            .deliver("a@contoso.com\nevil@x.com", &Secret::new("Xy3!xxxxxxxx"))
            .unwrap_err();
        assert!(err.to_string().contains("control characters"), "{err}");
        assert!(!fresh.exists());
        // A file m365guard wrote earlier may be appended to.
        sink.deliver("a@contoso.com", &Secret::new("Xy3!aaaaaaaa"))
            .unwrap();
        sink.not_applied("a@contoso.com", "test");
        PasswordSink::file(&fresh)
            .deliver("b@contoso.com", &Secret::new("Xy3!bbbbbbbb"))
            .unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap().lines().count(), 3);
    }
}
