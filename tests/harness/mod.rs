//! The one test harness: paths, the tenant emulator, the `m365guard` binary with a clean
//! environment, and leak assertions. Every integration-test module uses these instead of
//! its own copies, so an environment variable on the developer's machine
//! (`AZURE_CLIENT_CERTIFICATE_PATH`, `M365GUARD_CONCURRENCY`, a GitHub OIDC variable) can
//! never change what a test sees.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use m365guard_emulator::{spawn, Emulator, EmulatorConfig};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of `examples/`.
pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

/// The emulator serving scenario `contoso` (examples/contoso-compromised.json).
pub fn start() -> Emulator {
    start_scenario("contoso")
}

/// The emulator serving `tests/emulator/scenarios/<name>.toml`.
pub fn start_scenario(name: &str) -> Emulator {
    let path = root().join(format!("tests/emulator/scenarios/{name}.toml"));
    let cfg = EmulatorConfig::from_scenario_file(&path).expect("scenario loads");
    spawn(cfg).expect("emulator starts on 127.0.0.1")
}

/// Whether a variable could change how m365guard signs in, where it connects or how it
/// collects: every such variable is removed from child processes.
pub fn is_ambient(key: &OsStr) -> bool {
    let key = key.to_string_lossy();
    key.starts_with("AZURE_")
        || key.starts_with("M365GUARD_")
        || key.starts_with("ACTIONS_ID_TOKEN_")
        || key == "NO_COLOR"
}

/// The binary under test with a clean environment, run in `dir`.
pub fn m365guard(dir: &Path) -> Command {
    let mut cmd = command();
    cmd.current_dir(dir);
    cmd
}

/// The binary, signed in to `emu` with its client secret (env variables, as in CI).
pub fn m365guard_against(emu: &Emulator, dir: &Path) -> Command {
    let mut cmd = m365guard(dir);
    cmd.env("AZURE_TENANT_ID", emu.tenant_id())
        .env("AZURE_CLIENT_ID", emu.client_id())
        .env(
            "AZURE_CLIENT_SECRET",
            emu.client_secret().expect("scenario has a client secret"),
        )
        .env("M365GUARD_AUTHORITY_HOST", &emu.base_url)
        .env("M365GUARD_GRAPH_URL", &emu.base_url)
        .env("M365GUARD_EXCHANGE_URL", &emu.base_url);
    cmd
}

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Out {
    let output = cmd.output().expect("m365guard runs");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// No secret, no access token (JWTs start with `eyJ`), no `Bearer` header in any text.
pub fn assert_no_leaks<'a>(texts: impl IntoIterator<Item = &'a str>, secrets: &[&str]) {
    for text in texts {
        assert!(!text.contains("eyJ"), "a JWT leaked:\n{text}");
        assert!(!text.contains("Bearer "), "a bearer header leaked:\n{text}");
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(!text.contains(secret), "a secret leaked:\n{text}");
        }
    }
}

/// The binary under test with every ambient variable (see [`is_ambient`]) removed; the
/// caller sets what the test needs. All tests spawn m365guard through this or [`m365guard`].
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_m365guard"));
    for (key, _) in std::env::vars_os() {
        if is_ambient(&key) {
            cmd.env_remove(key);
        }
    }
    cmd
}
