//! `m365guard-emulator` binary: serves a scenario, or any m365guard snapshot (a generated
//! tenant: `m365guard generate --users N -o t.json`, then `--snapshot t.json`), on a local
//! port and prints the base URL and the credentials to use. Never logs request bodies.

use std::path::PathBuf;
use std::process::ExitCode;

use m365guard_emulator::{spawn_on, EmulatorConfig};

const USAGE: &str =
    "usage: m365guard-emulator [--scenario NAME|PATH | --snapshot FILE] [--port P] [--seed S]
       [--latency-ms MS] [--jitter-ms MS] [--rate-429 P] [--retry-after SECS] [--batch-429 P]
       [--burst-503 N] [--drop-rate P] [--truncate-rate P] [--mailbox-concurrency N]
       [--one-rps] [--exo-truncate] [--exo-pagination-expired] [--token-lifetime SECS]
       [--page-size N] [--no-p1] [--no-p2] [--fail-mailbox UPN]
  NAME is a file in tests/emulator/scenarios/ (without .toml); default `contoso`.
  FILE is a m365guard snapshot (`-` = standard input), e.g. a synthetic tenant written by
  `m365guard generate --users N --seed S -o FILE`; served with the contoso app and demo
  secret, full grants and P1+P2.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("m365guard-emulator: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut scenario: Option<String> = None;
    let mut snapshot: Option<PathBuf> = None;
    let mut port = 8080u16;
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    while let Some(a) = args.next() {
        let takes_value = !matches!(
            a.as_str(),
            "--one-rps"
                | "--exo-truncate"
                | "--exo-pagination-expired"
                | "--no-p1"
                | "--no-p2"
                | "--help"
                | "-h"
        );
        let v = if takes_value {
            Some(args.next().ok_or(format!("{a} needs a value\n{USAGE}"))?)
        } else {
            None
        };
        match a.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            "--scenario" => scenario = v,
            "--snapshot" => snapshot = v.map(PathBuf::from),
            "--port" => port = parse(&a, v)?,
            _ => flags.push((a, v)),
        }
    }
    let mut cfg = match (snapshot, scenario) {
        (Some(path), None) => {
            EmulatorConfig::from_snapshot_file(&path).map_err(|e| e.to_string())?
        }
        (Some(_), Some(_)) => return Err("--snapshot and --scenario are exclusive".into()),
        (None, s) => {
            let s = s.unwrap_or_else(|| "contoso".into());
            let path = if s.ends_with(".toml") || s.contains('/') {
                PathBuf::from(&s)
            } else {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("scenarios")
                    .join(format!("{s}.toml"))
            };
            EmulatorConfig::from_scenario_file(&path).map_err(|e| e.to_string())?
        }
    };
    for (flag, v) in flags {
        let f = &mut cfg.faults;
        match flag.as_str() {
            "--seed" => cfg.options.seed = parse(&flag, v)?,
            "--latency-ms" => f.latency_ms = parse(&flag, v)?,
            "--jitter-ms" => f.jitter_ms = parse(&flag, v)?,
            "--rate-429" => f.rate_429 = parse(&flag, v)?,
            "--retry-after" => f.retry_after = v,
            "--batch-429" => f.batch_item_429_rate = parse(&flag, v)?,
            "--burst-503" => f.burst_503 = parse(&flag, v)?,
            "--drop-rate" => f.drop_rate = parse(&flag, v)?,
            "--truncate-rate" => f.truncate_rate = parse(&flag, v)?,
            "--mailbox-concurrency" => f.mailbox_concurrency_limit = parse(&flag, v)?,
            "--one-rps" => f.one_rps_limit = true,
            "--exo-truncate" => f.exo_force_truncation = true,
            "--exo-pagination-expired" => f.exo_pagination_expired = true,
            "--token-lifetime" => cfg.options.token_lifetime_secs = parse(&flag, v)?,
            "--page-size" => cfg.options.graph_page_size = parse(&flag, v)?,
            "--no-p1" => cfg.licences.p1 = false,
            "--no-p2" => cfg.licences.p2 = false,
            "--fail-mailbox" => f.fail_mailbox = v,
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    let emu = spawn_on(cfg, port).map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    println!("m365guard-emulator listening on {}", emu.base_url);
    println!("  tenant id      : {}", emu.tenant_id());
    println!("  client id      : {}", emu.client_id());
    if let Some(secret) = emu.client_secret() {
        println!("  client secret  : {secret}   (fake demo value)");
    }
    println!("  token endpoint : {}", emu.token_url());
    println!("  graph base     : {}/v1.0", emu.base_url);
    println!("  exchange       : {}", emu.invoke_command_url());
    println!("Ctrl-C to stop.");
    loop {
        std::thread::park();
    }
}

fn parse<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
    let v = v.unwrap_or_default();
    v.parse()
        .map_err(|_| format!("{flag}: invalid value `{v}`"))
}
