//! Test helpers: a tiny raw HTTP/1.1 client (so tests can observe dropped connections and
//! truncated bodies exactly), token fetching, and fixture loading.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use m365guard_emulator::{spawn, Emulator, EmulatorConfig};
use serde_json::{json, Value};

pub const TENANT: &str = "7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e";
pub const CLIENT_ID: &str = "3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9";
pub const SECRET: &str = "Fake~Secret.Value_0123456789abcdefABCDEF";
pub const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
pub const RAJ: &str = "8a9b0c1d-2e3f-4a4b-9c5d-6e7f8a9b0c1d";
pub const DANA: &str = "6e1f3a2b-4c5d-4e6f-8a7b-9c0d1e2f3a4b";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
pub const EXO_SCOPE: &str = "https://outlook.office365.com/.default";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn config() -> EmulatorConfig {
    EmulatorConfig::from_scenario_file(&manifest_dir().join("scenarios/fixtures.toml")).unwrap()
}

pub fn start() -> Emulator {
    spawn(config()).unwrap()
}

pub fn fixture(name: &str) -> Value {
    let p = manifest_dir().join("../data/m365-api/fixtures").join(name);
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

pub fn testdata(name: &str) -> String {
    std::fs::read_to_string(manifest_dir().join("testdata").join(name)).unwrap()
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Content-Length announced more bytes than arrived.
    pub truncated: bool,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh connection (`Connection: close`). `url` may be absolute
/// (`http://127.0.0.1:PORT/path`) — as a client follows a nextLink verbatim.
pub fn request(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // Like any HTTP client: spaces in a URL go out percent-encoded.
    let path = path.replace(' ', "%20");
    let path = path.as_str();
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        if path.is_empty() { "/" } else { path },
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    if raw.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed without a response",
        ));
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let len: Option<usize> = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok());
    Ok(Resp {
        status,
        truncated: len.is_some_and(|l| l > body.len()),
        headers,
        body,
    })
}

pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", m365guard_emulator::util::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

pub fn token_request(emu: &Emulator, pairs: &[(&str, &str)]) -> Resp {
    request(
        &emu.token_url(),
        "POST",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(pairs),
    )
    .unwrap()
}

pub fn token(emu: &Emulator, scope: &str) -> String {
    let r = token_request(
        emu,
        &[
            ("client_id", CLIENT_ID),
            ("scope", scope),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_owned()
}

pub fn graph(emu: &Emulator, tok: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}{path}", emu.base_url)
    };
    let auth = format!("Bearer {tok}");
    let b = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut h = vec![("Authorization", auth.as_str())];
    if body.is_some() {
        h.push(("Content-Type", "application/json"));
    }
    request(&url, method, &h, &b).unwrap()
}

pub fn get(emu: &Emulator, tok: &str, path: &str) -> Resp {
    graph(emu, tok, "GET", path, None)
}

pub fn exo_at(
    url: &str,
    tok: &str,
    cmdlet: &str,
    params: Value,
    extra: &[(&str, &str)],
) -> std::io::Result<Resp> {
    let body = json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}});
    let auth = format!("Bearer {tok}");
    let mut h = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("X-CmdletName", cmdlet),
    ];
    h.extend_from_slice(extra);
    request(url, "POST", &h, &serde_json::to_vec(&body).unwrap())
}

pub fn exo(emu: &Emulator, tok: &str, cmdlet: &str, params: Value) -> Resp {
    exo_at(&emu.invoke_command_url(), tok, cmdlet, params, &[]).unwrap()
}

/// Follows Graph nextLinks verbatim; returns all items.
pub fn collect_all(emu: &Emulator, tok: &str, path: &str) -> (Vec<Value>, usize) {
    let mut url = path.to_owned();
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let r = get(emu, tok, &url);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        pages += 1;
        items.extend(v["value"].as_array().unwrap().iter().cloned());
        match v.get("@odata.nextLink").and_then(Value::as_str) {
            Some(n) => url = n.to_owned(),
            None => break,
        }
        assert!(pages < 1000);
    }
    (items, pages)
}

/// Keys of a JSON object, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}
