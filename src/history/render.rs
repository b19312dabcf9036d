//! The history page and CSV. The page is self-contained like the scan report (inline CSS,
//! inline SVG, no scripts, a CSP that forbids anything else); every text in it is
//! HTML-escaped here (file names and resource names can come from anywhere).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{History, Lifetime};
use crate::report::csv::field;
use crate::report::json::timestamp;

const SEVERITIES: [(&str, &str); 4] = [
    ("low", "#0969da"),
    ("medium", "#9a6700"),
    ("high", "#cf222e"),
    ("critical", "#a40e26"),
];
const PHASES: [(&str, &str); 3] = [
    ("30 days", "#1a7f37"),
    ("90 days", "#8250df"),
    ("beyond 90 days", "#57606a"),
];

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn percent(passed: usize, applicable: usize) -> f64 {
    if applicable == 0 {
        0.0
    } else {
        passed as f64 * 100.0 / applicable as f64
    }
}

/// One line chart as inline SVG: x is the collection time, one polyline (with a dot per
/// run) per series. `series`: (name, colour, one value per run).
pub fn line_chart(
    title: &str,
    times: &[DateTime<Utc>],
    series: &[(&str, &str, Vec<f64>)],
    y_max: f64,
    y_unit: &str,
) -> String {
    const W: f64 = 720.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 48.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 40.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let (Some(first), Some(last)) = (times.first(), times.last()) else {
        return String::new();
    };
    let span = (*last - *first).num_seconds().max(1) as f64;
    let x = |i: usize| {
        if times.len() == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + (times[i] - *first).num_seconds() as f64 / span * plot_w
        }
    };
    let y_max = if y_max <= 0.0 { 1.0 } else { y_max };
    let y = |v: f64| TOP + plot_h - v / y_max * plot_h;

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        escape(title)
    );
    // Axes and four grid lines with their values.
    for step in 0..=4 {
        let value = y_max * f64::from(step) / 4.0;
        let gy = y(value);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{gy:.1}\" x2=\"{:.1}\" y2=\"{gy:.1}\" stroke=\"#d0d7de\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#57606a\">{}{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            gy + 4.0,
            (value * 10.0).round() / 10.0,
            escape(y_unit)
        );
    }
    // Date labels: first and last (anchored inward so they stay inside), and the middle
    // one when it does not collide with either.
    let last_index = times.len() - 1;
    let mut labelled = vec![(0, "start")];
    if times.len() > 2 {
        let mid = times.len() / 2;
        if x(mid) - x(0) > 120.0 && x(last_index) - x(mid) > 120.0 {
            labelled.push((mid, "middle"));
        }
    }
    if last_index > 0 && x(last_index) - x(0) > 120.0 {
        labelled.push((last_index, "end"));
    }
    for (i, anchor) in labelled {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"{anchor}\" fill=\"#57606a\">{}</text>",
            x(i),
            H - BOTTOM + 16.0,
            times[i].format("%Y-%m-%d %H:%M")
        );
    }
    for (name, colour, values) in series {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"series\" data-series=\"{}\" fill=\"none\" stroke=\"{colour}\" \
             stroke-width=\"2\" points=\"{}\"/>",
            escape(name),
            points.join(" ")
        );
        for (i, v) in values.iter().enumerate() {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{}: {v}</title></circle>",
                x(i),
                y(*v),
                escape(name)
            );
        }
    }
    // Legend along the bottom.
    let mut lx = LEFT;
    for (name, colour, _) in series {
        let _ = write!(
            svg,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            H - 14.0,
            lx + 14.0,
            H - 5.0,
            escape(name)
        );
        lx += 30.0 + 7.0 * name.len() as f64;
    }
    svg.push_str("</svg>");
    svg
}

/// One CSV row per run: when, which file, findings per severity, rules passed per phase.
pub fn csv(history: &History) -> String {
    let mut out = String::from(
        "collected_at,file,tenant_id,critical,high,medium,low,total,\
         phase_30d_passed,phase_30d_applicable,phase_90d_passed,phase_90d_applicable,\
         phase_beyond_passed,phase_beyond_applicable\r\n",
    );
    for run in &history.runs {
        let [low, medium, high, critical] = run.by_severity;
        let mut cells = vec![
            timestamp(&run.collected_at),
            field(&run.file),
            field(&run.tenant_id),
            critical.to_string(),
            high.to_string(),
            medium.to_string(),
            low.to_string(),
            run.total().to_string(),
        ];
        for (passed, applicable) in run.phases {
            cells.push(passed.to_string());
            cells.push(applicable.to_string());
        }
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

fn days(d: f64) -> String {
    if d < 1.0 {
        format!("{:.1} h", d * 24.0)
    } else {
        format!("{d:.1} d")
    }
}

fn lifetime_row(out: &mut String, life: &Lifetime, last: DateTime<Utc>) {
    let _ = writeln!(
        out,
        "<tr><td><span class=\"sev sev-{sev}\">{sev}</span></td><td><code>{}</code></td><td>{}</td>\
         <td class=\"time\">{}</td><td class=\"time\">{}</td><td class=\"num\">{}</td></tr>",
        escape(&life.rule_id),
        escape(&life.resource),
        timestamp(&life.first_seen),
        life.fixed_at
            .map(|t| timestamp(&t))
            .unwrap_or_else(|| "open".to_owned()),
        days(life.days(last)),
        sev = life.severity.as_str(),
    );
}

/// The self-contained history page.
pub fn html(history: &History) -> String {
    let times: Vec<DateTime<Utc>> = history.runs.iter().map(|r| r.collected_at).collect();
    let severity_series: Vec<(&str, &str, Vec<f64>)> = SEVERITIES
        .iter()
        .enumerate()
        .rev()
        .map(|(i, (name, colour))| {
            let values = history
                .runs
                .iter()
                .map(|r| r.by_severity[i] as f64)
                .collect();
            (*name, *colour, values)
        })
        .collect();
    let y_max = severity_series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .fold(0.0, f64::max);
    let phase_series: Vec<(&str, &str, Vec<f64>)> = PHASES
        .iter()
        .enumerate()
        .map(|(i, (name, colour))| {
            let values = history
                .runs
                .iter()
                .map(|r| percent(r.phases[i].0, r.phases[i].1))
                .collect();
            (*name, *colour, values)
        })
        // A phase with no applicable rule in any run has nothing to show.
        .filter(|(name, _, _)| {
            let i = PHASES.iter().position(|(n, _)| n == name).unwrap_or(0);
            history.runs.iter().any(|r| r.phases[i].1 > 0)
        })
        .collect();
    let last = times.last().copied().unwrap_or_else(Utc::now);
    let fixed: Vec<&Lifetime> = history
        .lifetimes
        .iter()
        .filter(|l| l.fixed_at.is_some())
        .collect();
    let open: Vec<&Lifetime> = history
        .lifetimes
        .iter()
        .filter(|l| l.fixed_at.is_none())
        .collect();
    let median_fix = median(fixed.iter().map(|l| l.days(last)).collect());

    let mut body = String::new();
    let tenants: Vec<&str> = {
        let mut t: Vec<&str> = history.runs.iter().map(|r| r.tenant_id.as_str()).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    let _ = write!(
        body,
        "<h1>m365guard history</h1>\n<p>{} runs from {} to {} (tenant {}).</p>\n",
        history.runs.len(),
        times.first().map(timestamp).unwrap_or_default(),
        times.last().map(timestamp).unwrap_or_default(),
        escape(&tenants.join(", "))
    );
    let _ = write!(
        body,
        "<section id=\"severity\"><h2>Findings per severity</h2>\n{}\n</section>\n",
        line_chart(
            "Unwaived findings per severity over time",
            &times,
            &severity_series,
            y_max,
            ""
        )
    );
    let _ = write!(
        body,
        "<section id=\"phases\"><h2>Roadmap-phase progress</h2>\n<p>Share of the applicable rules of each phase that passed.</p>\n{}\n</section>\n",
        line_chart(
            "Rules passed per roadmap phase over time, percent",
            &times,
            &phase_series,
            100.0,
            "%"
        )
    );
    let _ = write!(
        body,
        "<section id=\"time-to-fix\"><h2>Time to fix</h2>\n<p>{} findings fixed{}; {} still open.</p>\n",
        fixed.len(),
        median_fix
            .map(|m| format!(", median {}", days(m)))
            .unwrap_or_default(),
        open.len()
    );
    if !history.lifetimes.is_empty() {
        body.push_str(
            "<table><thead><tr><th>Severity</th><th>Rule</th><th>Resource</th><th>First seen</th>\
             <th>Fixed</th><th class=\"num\">Time</th></tr></thead><tbody>\n",
        );
        for life in fixed.iter().chain(open.iter()) {
            lifetime_row(&mut body, life, last);
        }
        body.push_str("</tbody></table>\n");
    }
    body.push_str("</section>\n<section id=\"runs\"><h2>Runs</h2><table><thead><tr><th>Collected</th><th>File</th>\
                   <th class=\"num\">Critical</th><th class=\"num\">High</th><th class=\"num\">Medium</th>\
                   <th class=\"num\">Low</th></tr></thead><tbody>\n");
    for run in &history.runs {
        let [low, medium, high, critical] = run.by_severity;
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{critical}</td><td class=\"num\">{high}</td>\
             <td class=\"num\">{medium}</td><td class=\"num\">{low}</td></tr>",
            timestamp(&run.collected_at),
            escape(&run.file)
        );
    }
    body.push_str("</tbody></table></section>\n");
    if !history.skipped.is_empty() {
        body.push_str("<section id=\"skipped\"><h2>Skipped files</h2><ul>\n");
        for s in &history.skipped {
            let _ = writeln!(body, "<li>{}</li>", escape(s));
        }
        body.push_str("</ul></section>\n");
    }

    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>m365guard history</title>\n<style>\n\
         body {{ font: 15px/1.5 system-ui, sans-serif; color: #1b1f24; margin: 0 auto; padding: 2rem 1.5rem; max-width: 72rem; }}\n\
         h2 {{ font-size: 1.2rem; margin: 2rem 0 .75rem; border-bottom: 1px solid #d0d7de; }}\n\
         table {{ border-collapse: collapse; width: 100%; }}\n\
         th, td {{ text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #d0d7de; }}\n\
         th {{ background: #f6f8fa; }} td.num, th.num {{ text-align: right; }}\n\
         td {{ overflow-wrap: anywhere; }} td.time {{ white-space: nowrap; }}\n\
         code {{ font: .9em ui-monospace, monospace; }}\n\
         .chart {{ max-width: 100%; height: auto; }}\n\
         .sev {{ font-weight: 600; text-transform: uppercase; font-size: .8rem; }}\n\
         .sev-critical {{ color: #a40e26; }} .sev-high {{ color: #cf222e; }} .sev-medium {{ color: #9a6700; }} .sev-low {{ color: #0969da; }}\n\
         </style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}
