//! A hostile server mode: a compromised or impersonated Entra ID / Graph / Exchange endpoint
//! on 127.0.0.1 that answers every request with what an attacker would send — an
//! `@odata.nextLink` to another host or port, a redirect, an endless chain of pages, a token
//! endpoint that redirects — and records every request it receives, so a test can assert
//! that m365guard's bearer token never reached a host it was not configured for.
//!
//! Two of them make a test: the *hostile* server m365guard is configured with, and a
//! *capture* server ([`Mode::Capture`]) that the hostile one points at. The capture server
//! answers like a real service would (a token, an empty page), so following a link to it
//! would succeed silently; a test passes only if the capture server saw no request at all.
//!
//! [`Mode::Script`] is the generative tests' mode (tests/fuzz.rs): it plays a list of
//! [`Answer`]s chosen by the test (any status, headers, body, and wire faults the normal
//! writer cannot produce: a `Content-Length` that lies, a truncated or trickled body, a
//! dropped connection), writing the bytes itself, then answers like [`Mode::Capture`].

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

use crate::http::{Request, Response};

/// What the server answers.
#[derive(Debug, Clone)]
pub enum Mode {
    /// A token for any token request; every other request a one-item page whose
    /// `@odata.nextLink` is this absolute URL.
    NextLinkTo(String),
    /// A token for any token request; every other request this 3xx with `Location`.
    RedirectTo { status: u16, location: String },
    /// Token requests are answered 302 to `location`; nothing else is served.
    TokenRedirectTo(String),
    /// A token; every page links to a new page on the same server, without end.
    EndlessPages,
    /// Answers like a real service (a token, an empty collection) and is only there to
    /// record what reached it.
    Capture,
    /// Like [`Mode::Capture`], but its tokens carry this `tid` claim (`None`: no `tid`).
    Tenant(Option<String>),
    /// A token; every other answer 429 with this `Retry-After` (seconds).
    Throttle(u32),
    /// A token; every other answer a one-page collection padded to this many bytes.
    BigPage(usize),
    /// Every answer (token requests included) carries a malformed header (a name with a
    /// space and a bare CR), which no client can parse.
    MalformedHeader,
    /// Plays `token` to token requests and `api` to every other request, in order (one
    /// answer per request, whatever its path), then answers like [`Mode::Capture`]. In
    /// header values and bodies `{self}` stands for this server's base URL and `{capture}`
    /// for `capture` (the server a test asserts is never reached).
    Script {
        token: Vec<Answer>,
        api: Vec<Answer>,
        capture: String,
    },
}

/// One scripted answer of [`Mode::Script`].
#[derive(Debug, Clone)]
pub struct Answer {
    /// Any number, 3xx and out-of-range ones included (written as is).
    pub status: u16,
    /// Written as given, after `{self}`/`{capture}` substitution (no validation).
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub wire: Wire,
}

/// What an [`Answer`] carries.
#[derive(Debug, Clone)]
pub enum Body {
    /// A token answer (`tid` = [`TENANT`]).
    Token,
    /// A one-item collection page, with this `@odata.nextLink` if any.
    Page { next: Option<String> },
    /// These bytes as they are.
    Raw(Vec<u8>),
}

/// How an [`Answer`] goes on the wire.
#[derive(Debug, Clone)]
pub enum Wire {
    /// `Content-Length` of the body, keep-alive.
    Normal,
    /// Close the connection without a byte.
    Drop,
    /// Announce the whole body, send only this many bytes of it, close.
    Truncate(usize),
    /// Announce this `Content-Length` whatever the body is; close after the body when it
    /// announces more than is sent (else keep the connection, leftovers and all).
    Length(u64),
    /// No `Content-Length`, close-delimited body.
    Unframed,
    /// The body in pieces of `chunk` bytes, `delay_ms` apart (bounded by the test).
    Slow { chunk: usize, delay_ms: u64 },
}

/// One request as the hostile server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The `Authorization` header, if any (a test checks it is absent).
    pub authorization: Option<String>,
    /// The request body (a token request carries the client secret here).
    pub body: String,
}

struct Shared {
    base_url: String,
    mode: Mode,
    seen: Mutex<Vec<Seen>>,
    pages: AtomicU64,
    /// Token answers given in [`Mode::Script`].
    token_answers: AtomicU64,
    stop: AtomicBool,
}

/// A running hostile server; stops when dropped.
pub struct Hostile {
    pub base_url: String,
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
}

/// The tenant id in the tokens this server issues.
pub const TENANT: &str = "7c1d2e3f-0000-4000-8000-0000000000aa";

/// A JWT-shaped access token (unsigned: m365guard never verifies its own tokens) with a
/// `tid` and `oid`, so code that reads those claims has something to read.
pub fn fake_token(tid: Option<&str>) -> String {
    let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let tid = tid.map(|t| format!(r#""tid":"{t}","#)).unwrap_or_default();
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&format!(
            r#"{{{tid}"oid":"00000000-0000-4000-8000-0000000000ff","aud":"hostile"}}"#
        ))
    )
}

fn json(status: u16, body: String) -> Response {
    let mut r = Response::new(status).header("Content-Type", "application/json");
    r.body = body.into_bytes();
    r
}

fn token(tid: Option<&str>) -> Response {
    json(
        200,
        format!(
            r#"{{"token_type":"Bearer","expires_in":3600,"access_token":"{}"}}"#,
            fake_token(tid)
        ),
    )
}

fn page(next: Option<&str>) -> Response {
    let next = next
        .map(|n| format!(r#","@odata.nextLink":{}"#, serde_json::Value::from(n)))
        .unwrap_or_default();
    json(
        200,
        format!(r#"{{"value":[{{"id":"00000000-0000-4000-8000-000000000001"}}]{next}}}"#),
    )
}

/// Which answer of a script a request gets.
fn next_scripted(shared: &Shared, req: &Request) -> Option<Answer> {
    let Mode::Script { token, api, .. } = &shared.mode else {
        return None;
    };
    let is_token = req.path.ends_with("/oauth2/v2.0/token");
    let counter = if is_token {
        &shared.token_answers
    } else {
        &shared.pages
    };
    let n = counter.fetch_add(1, Ordering::SeqCst) as usize;
    let list = if is_token { token } else { api };
    list.get(n).cloned()
}

fn substitute(shared: &Shared, text: &str) -> String {
    let capture = match &shared.mode {
        Mode::Script { capture, .. } => capture.as_str(),
        _ => "",
    };
    text.replace("{self}", &shared.base_url)
        .replace("{capture}", capture)
}

/// Write a scripted answer; `false` when the connection must close.
fn write_scripted(stream: &mut TcpStream, shared: &Shared, answer: &Answer) -> bool {
    use std::io::Write;
    let body = match &answer.body {
        Body::Token => fake_token_body(),
        Body::Page { next } => {
            let next = next.as_ref().map(|n| substitute(shared, n));
            page(next.as_deref()).body
        }
        Body::Raw(bytes) => bytes.clone(),
    };
    let body = match std::str::from_utf8(&body) {
        Ok(text) => substitute(shared, text).into_bytes(),
        Err(_) => body,
    };
    let mut head = format!("HTTP/1.1 {} Scripted\r\n", answer.status);
    for (k, v) in &answer.headers {
        head.push_str(&format!("{}: {}\r\n", k, substitute(shared, v)));
    }
    let (sent, keep) = match &answer.wire {
        Wire::Drop => return false,
        Wire::Normal | Wire::Slow { .. } => {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            (body.len(), true)
        }
        Wire::Truncate(n) => {
            head.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n",
                body.len()
            ));
            ((*n).min(body.len().saturating_sub(1)), false)
        }
        Wire::Length(n) => {
            head.push_str(&format!("Content-Length: {n}\r\n"));
            (body.len(), *n <= body.len() as u64)
        }
        Wire::Unframed => {
            head.push_str("Connection: close\r\n");
            (body.len(), false)
        }
    };
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return false;
    }
    let body = body.get(..sent).unwrap_or_default();
    let ok = match &answer.wire {
        Wire::Slow { chunk, delay_ms } => body.chunks((*chunk).max(1)).all(|piece| {
            std::thread::sleep(Duration::from_millis(*delay_ms));
            stream
                .write_all(piece)
                .and_then(|()| stream.flush())
                .is_ok()
        }),
        _ => stream.write_all(body).and_then(|()| stream.flush()).is_ok(),
    };
    ok && keep
}

/// Serve one connection of [`Mode::Script`]: the answers are written here, byte by byte
/// as scripted, since [`crate::http::serve_connection`] only writes well-formed ones.
fn serve_script(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = std::io::BufReader::new(read_half);
    let mut writer = stream;
    while let Ok(Some(req)) = crate::http::read_request(&mut reader, &mut writer) {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        record(shared, &req);
        let keep = match next_scripted(shared, &req) {
            Some(answer) => write_scripted(&mut writer, shared, &answer),
            None => {
                let resp = answer(shared, &req);
                let answer = Answer {
                    status: resp.status,
                    headers: resp.headers,
                    body: Body::Raw(resp.body),
                    wire: Wire::Normal,
                };
                write_scripted(&mut writer, shared, &answer)
            }
        };
        if !keep {
            break;
        }
    }
    let _ = writer.shutdown(std::net::Shutdown::Both);
}

fn fake_token_body() -> Vec<u8> {
    token(Some(TENANT)).body
}

fn record(shared: &Shared, req: &Request) {
    if let Ok(mut seen) = shared.seen.lock() {
        seen.push(Seen {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            authorization: req.header("authorization").map(str::to_owned),
            body: String::from_utf8_lossy(&req.body).into_owned(),
        });
    }
}

fn answer(shared: &Shared, req: &Request) -> Response {
    let is_token = req.path.ends_with("/oauth2/v2.0/token");
    match &shared.mode {
        Mode::MalformedHeader => token(Some(TENANT)).header("X Bad\rHeader", "1"),
        Mode::TokenRedirectTo(location) => Response::new(302).header("Location", location),
        Mode::Tenant(tid) if is_token => token(tid.as_deref()),
        _ if is_token => token(Some(TENANT)),
        Mode::NextLinkTo(link) => page(Some(link)),
        Mode::RedirectTo { status, location } => {
            Response::new(*status).header("Location", location)
        }
        Mode::EndlessPages => {
            let n = shared.pages.fetch_add(1, Ordering::SeqCst) + 1;
            let link = format!("{}{}?$skiptoken=page{n}", shared.base_url, req.path);
            page(Some(&link))
        }
        Mode::Capture | Mode::Tenant(_) | Mode::Script { .. } => {
            json(200, r#"{"value":[]}"#.into())
        }
        Mode::Throttle(secs) => json(
            429,
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#.into(),
        )
        .header("Retry-After", &secs.to_string()),
        Mode::BigPage(size) => json(
            200,
            format!(r#"{{"value":[],"padding":"{}"}}"#, "x".repeat(*size)),
        ),
    }
}

/// Start a hostile server on 127.0.0.1 (OS-assigned port).
pub fn spawn(mode: Mode) -> std::io::Result<Hostile> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://127.0.0.1:{}", addr.port());
    let shared = Arc::new(Shared {
        base_url: base_url.clone(),
        mode,
        seen: Mutex::new(Vec::new()),
        pages: AtomicU64::new(0),
        token_answers: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let accept = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("hostile-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if accept.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let conn = Arc::clone(&accept);
                let _ = std::thread::Builder::new()
                    .name("hostile-conn".into())
                    .spawn(move || {
                        if matches!(conn.mode, Mode::Script { .. }) {
                            serve_script(stream, &conn);
                            return;
                        }
                        let stop = Arc::clone(&conn);
                        crate::http::serve_connection(
                            stream,
                            &|req| {
                                record(&conn, req);
                                answer(&conn, req)
                            },
                            &|| stop.stop.load(Ordering::SeqCst),
                        );
                    });
            }
        })?;
    Ok(Hostile {
        base_url,
        shared,
        addr,
    })
}

impl Hostile {
    /// Every request received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.shared
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Pages served in [`Mode::EndlessPages`].
    pub fn pages_served(&self) -> u64 {
        self.shared.pages.load(Ordering::SeqCst)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}
