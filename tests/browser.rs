//! The HTML report in a real browser: headless Chromium renders the report of the bundled
//! compromised tenant, and the rendered DOM must show the findings, the exempt break-glass
//! account, the waiver and the roadmap phase progress; a screenshot must be produced. The
//! investigation timeline highlights risky Identity Protection detections.
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

/// The page that drives the report in an iframe (the report's own CSP forbids scripts, so
/// the probe lives outside it): it reads computed styles before and after choosing a
/// severity filter and a rule link, and writes what it saw as JSON into `#out`.
const PROBE: &str = r#"<!DOCTYPE html><html><body><pre id="out">pending</pre>
<iframe id="f" src="m365guard.html" width="1200" height="800"></iframe>
<script>
document.getElementById('f').addEventListener('load', () => {
  const w = document.getElementById('f').contentWindow, d = w.document;
  const shown = el => w.getComputedStyle(el).display !== 'none';
  const visible = () => [...d.querySelectorAll('#findings tr[data-sev]')]
    .filter(r => shown(r) && shown(r.closest('.rule'))).map(r => r.dataset.sev);
  const all = visible();
  d.getElementById('show-critical').click();
  const critical = visible();
  d.getElementById('show-all').click();
  w.location.hash = '#rule-mfa_not_enforced';
  const oneRule = visible().length;
  const remediation = [...d.querySelectorAll('#findings p.text')].map(p => p.innerText).join('\n');
  document.getElementById('out').textContent = JSON.stringify({
    all: all.length, critical, oneRule,
    headerWrap: w.getComputedStyle(d.querySelector('#findings th')).overflowWrap,
    backticks: remediation.includes('`'),
    codeSpans: d.querySelectorAll('#findings p.text code').length,
    referenceLinks: d.querySelectorAll('#findings ul.refs a[href^="https://"]').length,
    passedRules: d.querySelectorAll('#passed tbody tr').length,
  });
});
</script></body></html>"#;

/// HTML polish in a real browser: the severity filter and the rule links narrow the
/// findings without any script in the report, headers do not break inside words,
/// remediation Markdown is rendered (no literal backticks), references are links, and
/// passed rules are listed.
#[test]
fn html_report_filters_findings_and_renders_remediation() {
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
        .args(["--format", "html", "--format", "json", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("m365guard.json")).unwrap())
            .unwrap();
    let findings: Vec<&serde_json::Value> = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap())
        .filter(|f| f.get("waiver").is_none())
        .collect();
    let critical = findings
        .iter()
        .filter(|f| f["severity"] == "critical")
        .count();
    let mfa = findings
        .iter()
        .filter(|f| f["rule_id"] == "mfa_not_enforced")
        .count();
    let passed = json["totals"]["passed"].as_u64().unwrap();
    assert!(critical > 0 && mfa > 0 && passed > 0);

    std::fs::write(out.path().join("probe.html"), PROBE).unwrap();
    let url = format!("file://{}", out.path().join("probe.html").display());
    let profile = out.path().join("profile");
    let dom = headless(
        &browser,
        &profile,
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            &url,
        ],
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let start = dom.find("<pre id=\"out\">").expect("probe output") + 14;
    let end = start + dom[start..].find("</pre>").unwrap();
    let seen: serde_json::Value = serde_json::from_str(&dom[start..end])
        .unwrap_or_else(|e| panic!("probe did not finish ({e}): {}", &dom[start..end]));

    assert_eq!(
        seen["all"].as_u64().unwrap() as usize,
        findings.len(),
        "{seen}"
    );
    let shown_critical = seen["critical"].as_array().unwrap();
    assert_eq!(shown_critical.len(), critical, "{seen}");
    assert!(shown_critical.iter().all(|s| s == "critical"), "{seen}");
    assert_eq!(seen["oneRule"].as_u64().unwrap() as usize, mfa, "{seen}");
    assert_eq!(seen["headerWrap"], "normal", "{seen}");
    assert_eq!(seen["backticks"], false, "{seen}");
    assert!(seen["codeSpans"].as_u64().unwrap() > 0, "{seen}");
    assert!(seen["referenceLinks"].as_u64().unwrap() > 0, "{seen}");
    assert_eq!(seen["passedRules"].as_u64().unwrap(), passed, "{seen}");
}

/// `history` in a real browser: the charts render (one line per severity, SVG drawn with
/// a size), and a screenshot is produced.
#[test]
fn history_page_renders_its_charts() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("M365GUARD_REQUIRE_BROWSER").is_none(),
            "M365GUARD_REQUIRE_BROWSER is set but no chromium was found"
        );
        eprintln!("skipped: no chromium on PATH (set CHROMIUM or install Debian's chromium)");
        return;
    };
    let (dir, _) = crate::history::history_folder();
    let out = tempfile::tempdir().unwrap();
    let run = crate::harness::command()
        .args(["history"])
        .arg(dir.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    std::fs::write(
        out.path().join("probe.html"),
        r#"<!DOCTYPE html><html><body><pre id="out">pending</pre>
<iframe id="f" src="m365guard-history.html" width="1000" height="800"></iframe>
<script>
document.getElementById('f').addEventListener('load', () => {
  const d = document.getElementById('f').contentDocument;
  const charts = [...d.querySelectorAll('svg.chart')].map(s => {
    const b = s.getBoundingClientRect();
    return {w: Math.round(b.width), h: Math.round(b.height),
            lines: [...s.querySelectorAll('polyline')].map(p => p.dataset.series)};
  });
  document.getElementById('out').textContent = JSON.stringify(charts);
});
</script></body></html>"#,
    )
    .unwrap();
    let profile = out.path().join("profile");
    let url = format!("file://{}", out.path().join("probe.html").display());
    let dom = headless(
        &browser,
        &profile,
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            &url,
        ],
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let start = dom.find("<pre id=\"out\">").expect("probe output") + 14;
    let end = start + dom[start..].find("</pre>").unwrap();
    let charts: serde_json::Value = serde_json::from_str(&dom[start..end])
        .unwrap_or_else(|e| panic!("probe did not finish ({e}): {}", &dom[start..end]));
    let charts = charts.as_array().unwrap();
    assert_eq!(charts.len(), 2, "{charts:?}");
    assert_eq!(
        charts[0]["lines"],
        serde_json::json!(["critical", "high", "medium", "low"])
    );
    for chart in charts {
        assert!(chart["w"].as_u64().unwrap() > 300 && chart["h"].as_u64().unwrap() > 100);
    }

    let png = out.path().join("history.png");
    let url = format!(
        "file://{}",
        out.path().join("m365guard-history.html").display()
    );
    let shot = headless(
        &browser,
        &profile,
        &[
            "--window-size=1000,1400",
            &format!("--screenshot={}", png.display()),
            &url,
        ],
    );
    assert!(shot.status.success());
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000);
    if let Some(keep) = std::env::var_os("M365GUARD_KEEP_HISTORY_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}

/// Issue #13: the investigation timeline highlights Identity Protection's medium and high
/// risk detections like the events a rule flagged, naming what flagged them; the rows a
/// rule flagged stay highlighted beside them.
#[test]
fn investigation_timeline_highlights_risky_detections() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("M365GUARD_REQUIRE_BROWSER").is_none(),
            "M365GUARD_REQUIRE_BROWSER is set but no chromium was found"
        );
        eprintln!("skipped: no chromium on PATH (set CHROMIUM or install Debian's chromium)");
        return;
    };
    let emu = crate::harness::start();
    let dir = tempfile::tempdir().unwrap();
    crate::investigate::investigate(&emu, dir.path());
    let page = dir.path().join("case/timeline.html");
    let url = format!("file://{}", page.display());
    let dom = headless(&browser, &dir.path().join("profile"), &["--dump-dom", &url]);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let rows: Vec<&str> = dom.split("<tr class=\"").skip(1).collect();
    let risk: Vec<&str> = rows
        .iter()
        .filter(|r| r.contains("<td>risk detection</td>"))
        .copied()
        .collect();
    assert_eq!(risk.len(), 2, "the story's two detections");
    for (level, kind) in [
        ("high", "unfamiliarFeatures"),
        ("medium", "anonymizedIPAddress"),
    ] {
        let row = risk
            .iter()
            .find(|r| r.contains(kind))
            .unwrap_or_else(|| panic!("no {kind} row"));
        assert!(row.starts_with("suspicious"), "{row}");
        assert!(
            row.contains(&format!("Identity Protection [{level}]: {kind}")),
            "{row}"
        );
    }
    let flagged_by_rules = rows
        .iter()
        .filter(|r| r.starts_with("suspicious") && !r.contains("<td>risk detection</td>"))
        .count();
    assert_eq!(flagged_by_rules, 5, "the rules' five rows stay highlighted");
    assert!(
        rows.iter().any(|r| r.starts_with("ordinary")),
        "ordinary rows are not highlighted"
    );
}
