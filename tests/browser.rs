//! The HTML report in a real browser: headless Chromium renders the report of the bundled
//! compromised tenant, and the rendered DOM must show the findings, the exempt break-glass
//! account, the waiver and the roadmap phase progress; a screenshot must be produced.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it and sets M365GUARD_REQUIRE_BROWSER=1, so
//! CI fails rather than skips when it is missing). Elsewhere it is skipped with a message.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| Path::new(dir).join(name))
                .find(|p| p.is_file())
        })
}

fn headless(browser: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

#[test]
fn html_report_renders_findings_waivers_and_phase_progress() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("M365GUARD_REQUIRE_BROWSER").is_none(),
            "M365GUARD_REQUIRE_BROWSER is set but no chromium was found"
        );
        eprintln!("skipped: no chromium on PATH (set CHROMIUM or install Debian's chromium)");
        return;
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let scan = crate::harness::command()
        .current_dir(repo)
        .args(["scan", "--snapshot", "examples/contoso-compromised.json"])
        .args([
            "--config",
            "examples/m365guard.toml",
            "--baseline",
            "roadmap-30d",
        ])
        .args(["--format", "html", "--format", "markdown", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        scan.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let report = out.path().join("m365guard.html");
    let url = format!("file://{}", report.display());

    let profile = out.path().join("profile");
    let dom = headless(&browser, &profile, &["--dump-dom", &url]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    for expected in [
        "lena.fischer@contoso.com",
        "mailbox_external_forwarding",
        "inbox_rule_hides_mail",
        "restricted_sender",
        "Security roadmap phase",
        "roadmap-30d",
        "breakglass01@contoso.onmicrosoft.com",
        "Waivers",
    ] {
        assert!(
            dom_text.contains(expected),
            "rendered page lacks {expected:?}"
        );
    }
    // Phase progress renders as "passed / total" over the rules the 30-day baseline selects.
    let baseline = std::fs::read_to_string(repo.join("baselines/roadmap-30d.toml")).unwrap();
    let selected = baseline.lines().filter(|l| l.trim() == "[[rule]]").count();
    assert!(selected >= 11, "{selected}");
    let progress = dom_text.find("Security roadmap phase").unwrap();
    let phase_table = &dom_text[progress..];
    let row = phase_table
        .find("30 days")
        .expect("no 30-day row in the phase table");
    let row_text = &phase_table[row..(row + 400).min(phase_table.len())];
    assert!(
        row_text.contains(&format!(" / {selected}<")),
        "30-day row lacks passed/{selected}: {row_text}"
    );

    let png = out.path().join("report.png");
    let shot = headless(
        &browser,
        &profile,
        &[
            "--window-size=1280,3000",
            &format!("--screenshot={}", png.display()),
            &url,
        ],
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "screenshot suspiciously small: {} bytes",
        bytes.len()
    );
    if let Some(keep) = std::env::var_os("M365GUARD_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}
