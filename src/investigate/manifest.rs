//! Chain of custody: `manifest.sha256`, the SHA-256 of every file `investigate` wrote, in
//! `sha256sum` format (`<64 hex>  <name>`), so `sha256sum -c manifest.sha256` run in the
//! output directory verifies that nothing was changed since.

use std::path::Path;

use sha2::{Digest, Sha256};

/// The manifest's file name.
pub const NAME: &str = "manifest.sha256";

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The manifest text for `files` (names relative to the directory, each read back from
/// disk so the hash is of what was written, not of what was meant to be).
pub fn build(dir: &Path, files: &[&str]) -> std::io::Result<String> {
    let mut names: Vec<&str> = files.to_vec();
    names.sort_unstable();
    let mut out = String::new();
    for name in names {
        let bytes = std::fs::read(dir.join(name))?;
        // Two spaces: sha256sum's text mode, which `sha256sum -c` reads.
        out.push_str(&format!("{}  {name}\n", sha256_hex(&bytes)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_sha256sum_format_sorted_by_name() {
        let dir = std::env::temp_dir().join(format!("m365guard-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.json"), b"abc").unwrap();
        std::fs::write(dir.join("a.json"), b"").unwrap();
        let text = build(&dir, &["b.json", "a.json"]).unwrap();
        assert_eq!(
            text,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.json\n\
             ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b.json\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
