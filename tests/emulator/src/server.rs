//! The running emulator: shared state behind mutexes, the accept loop, top-level routing
//! (token endpoint, Graph, `$batch`, InvokeCommand), bearer-token checks, fault injection,
//! and the request and write logs tests inspect.

use std::collections::{HashMap, HashSet};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::config::{AppRegistration, EmulatorConfig, Faults, Grants, Licences, Options};
use crate::http::{Fate, Request, Response};
use crate::respond::{self, Ctx};
use crate::state::TenantState;
use crate::util::{now_epoch, percent_decode, Prng};

/// Which resource a token was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Audience {
    Graph,
    Exchange,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub audience: Audience,
    pub expires_at: u64,
    /// Application permissions at issue time (the `roles` claim).
    pub roles: Vec<String>,
    /// Directory role template ids at issue time (the `wids` claim).
    pub wids: Vec<String>,
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub roles: Vec<String>,
    pub wids: Vec<String>,
}

impl Caller {
    pub fn has_any(&self, perms: &[&str]) -> bool {
        self.roles.iter().any(|r| perms.contains(&r.as_str()))
    }

    pub fn has_directory_role(&self, templates: &[&str]) -> bool {
        self.wids.iter().any(|w| templates.contains(&w.as_str()))
    }
}

/// Which service a write went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Service {
    Graph,
    Exchange,
}

/// One write operation as received (secrets redacted), in arrival order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteOp {
    pub service: Service,
    /// Graph: the HTTP method; Exchange: the cmdlet name.
    pub operation: String,
    /// Graph: the path incl. version (`/v1.0/users/{id}`); Exchange: the `Identity`,
    /// `Mailbox` or `SenderAddress` parameter.
    pub target: String,
    /// Graph: the JSON body; Exchange: the `Parameters` object.
    pub body: Value,
    /// The status answered (writes that failed are logged too).
    pub status: u16,
}

/// One request as seen at the top level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Transport fault applied (`drop`, `truncate`) if any.
    pub fault: Option<String>,
}

/// Settings that tests may change while the emulator runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app: AppRegistration,
    pub grants: Grants,
    pub licences: Licences,
    pub options: Options,
    pub faults: Faults,
}

/// An open Exchange paging cursor (`$skiptoken` of an `@odata.nextLink`).
#[derive(Debug, Clone)]
pub struct ExoCursor {
    pub cmdlet: String,
    pub parameters: Value,
    pub offset: usize,
    /// Items beyond this index are not returned (ResultSize / forced truncation).
    pub limit: usize,
    pub created: Instant,
}

pub struct Shared {
    pub base_url: String,
    pub state: Mutex<TenantState>,
    pub settings: Mutex<Settings>,
    pub tokens: Mutex<HashMap<String, IssuedToken>>,
    pub used_jtis: Mutex<HashSet<String>>,
    pub prng: Mutex<Prng>,
    pub write_log: Mutex<Vec<WriteOp>>,
    pub request_log: Mutex<Vec<RequestRecord>>,
    pub request_count: AtomicU64,
    pub inflight: Mutex<HashMap<String, u32>>,
    /// Highest number of requests ever in flight for one mailbox (Graph mailbox paths and
    /// mailbox-anchored Exchange calls), including the ones answered `ApplicationThrottled`.
    pub mailbox_peak: AtomicU64,
    /// `ApplicationThrottled` answers sent (top level, `$batch` items and Exchange).
    pub mailbox_throttled: AtomicU64,
    pub exo_cursors: Mutex<HashMap<String, ExoCursor>>,
    pub last_one_rps: Mutex<HashMap<&'static str, Instant>>,
    pub stop: AtomicBool,
    pub id_counter: AtomicU64,
    /// `setup --apply`'s device-code sessions and what it created (`setup_endpoints`).
    pub setup: Mutex<crate::setup_endpoints::SetupState>,
}

/// Locks a mutex, recovering from poisoning (a panicking handler thread must not wedge the
/// emulator for the rest of a test run).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub fn new_ctx(&self, req_headers: &[(String, String)]) -> Ctx {
        let request_id = lock(&self.prng).guid();
        let client_request_id = req_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("client-request-id"))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| request_id.clone());
        Ctx {
            request_id,
            client_request_id,
            base_url: self.base_url.clone(),
        }
    }

    pub fn record_write(&self, op: WriteOp) {
        lock(&self.write_log).push(op);
    }

    /// Random decision from the seeded PRNG.
    pub fn chance(&self, p: f64) -> bool {
        lock(&self.prng).chance(p)
    }

    /// A fresh opaque token string (JWT-shaped so a client can decode its claims).
    pub fn random_hex(&self, bytes: usize) -> String {
        let mut p = lock(&self.prng);
        (0..bytes)
            .map(|_| format!("{:02x}", p.below(256)))
            .collect()
    }
}

/// In-flight counter for one mailbox; decremented on drop.
pub struct InflightGuard<'a> {
    shared: &'a Shared,
    key: String,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        let mut m = lock(&self.shared.inflight);
        if let Some(n) = m.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}

pub fn acquire_mailbox<'a>(shared: &'a Shared, key: &str) -> (InflightGuard<'a>, u32) {
    let mut m = lock(&shared.inflight);
    let n = m.entry(key.to_owned()).or_insert(0);
    *n += 1;
    let now = *n;
    drop(m);
    shared
        .mailbox_peak
        .fetch_max(u64::from(now), Ordering::SeqCst);
    (
        InflightGuard {
            shared,
            key: key.to_owned(),
        },
        now,
    )
}

/// A running emulator; shuts down when dropped.
pub struct Emulator {
    /// `http://127.0.0.1:PORT` — use as authority host, Graph base and Exchange base.
    pub base_url: String,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
    addr: std::net::SocketAddr,
}

/// Starts an emulator on 127.0.0.1 with an OS-assigned port, serving from a background
/// thread (one thread per connection).
pub fn spawn(config: EmulatorConfig) -> std::io::Result<Emulator> {
    spawn_on(config, 0)
}

/// Like `spawn`, on a given port (0 = any).
pub fn spawn_on(config: EmulatorConfig, port: u16) -> std::io::Result<Emulator> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://127.0.0.1:{}", addr.port());
    let seed = config.options.seed;
    let shared = Arc::new(Shared {
        base_url: base_url.clone(),
        state: Mutex::new(config.tenant),
        settings: Mutex::new(Settings {
            app: config.app,
            grants: config.grants,
            licences: config.licences,
            options: config.options,
            faults: config.faults,
        }),
        tokens: Mutex::new(HashMap::new()),
        used_jtis: Mutex::new(HashSet::new()),
        prng: Mutex::new(Prng::new(seed)),
        write_log: Mutex::new(Vec::new()),
        request_log: Mutex::new(Vec::new()),
        request_count: AtomicU64::new(0),
        inflight: Mutex::new(HashMap::new()),
        mailbox_peak: AtomicU64::new(0),
        mailbox_throttled: AtomicU64::new(0),
        exo_cursors: Mutex::new(HashMap::new()),
        last_one_rps: Mutex::new(HashMap::new()),
        stop: AtomicBool::new(false),
        id_counter: AtomicU64::new(1),
        setup: Mutex::default(),
    });
    let accept_shared = Arc::clone(&shared);
    let accept_thread = std::thread::Builder::new()
        .name("m365-emulator-accept".into())
        .spawn(move || accept_loop(listener, accept_shared))?;
    Ok(Emulator {
        base_url,
        shared,
        accept_thread: Some(accept_thread),
        addr,
    })
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let conn_shared = Arc::clone(&shared);
        let _ = std::thread::Builder::new()
            .name("m365-emulator-conn".into())
            .spawn(move || {
                let s = Arc::clone(&conn_shared);
                crate::http::serve_connection(stream, &|req| dispatch(&conn_shared, req), &|| {
                    s.stop.load(Ordering::SeqCst)
                });
            });
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

impl Emulator {
    /// The shared state, for the emulator's other modules (`setup_endpoints`).
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The tenant state; hold the guard briefly (requests wait on it).
    pub fn state(&self) -> MutexGuard<'_, TenantState> {
        lock(&self.shared.state)
    }

    /// Requests received so far (all endpoints, including dropped ones).
    pub fn request_count(&self) -> u64 {
        self.shared.request_count.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.request_log).clone()
    }

    /// Write operations received, in order.
    pub fn write_log(&self) -> Vec<WriteOp> {
        lock(&self.shared.write_log).clone()
    }

    /// `ApplicationThrottled` answers sent so far (per-mailbox concurrency over
    /// `Faults::mailbox_concurrency_limit`, Graph and Exchange).
    pub fn mailbox_throttled(&self) -> u64 {
        self.shared.mailbox_throttled.load(Ordering::SeqCst)
    }

    /// The most requests seen in flight at once for a single mailbox.
    pub fn mailbox_peak_inflight(&self) -> u64 {
        self.shared.mailbox_peak.load(Ordering::SeqCst)
    }

    pub fn faults(&self) -> Faults {
        lock(&self.shared.settings).faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        lock(&self.shared.settings).faults = faults;
    }

    /// Changes grants; already issued tokens keep the roles they were issued with.
    pub fn set_grants(&self, grants: Grants) {
        lock(&self.shared.settings).grants = grants;
    }

    pub fn set_licences(&self, licences: Licences) {
        lock(&self.shared.settings).licences = licences;
    }

    pub fn options(&self) -> Options {
        lock(&self.shared.settings).options.clone()
    }

    pub fn set_options(&self, options: Options) {
        lock(&self.shared.settings).options = options;
    }

    /// Makes every issued token expired (next use → 401), for token-expiry-mid-run tests.
    pub fn expire_all_tokens(&self) {
        for t in lock(&self.shared.tokens).values_mut() {
            t.expires_at = 0;
        }
    }

    pub fn tenant_id(&self) -> String {
        lock(&self.shared.state).tenant_id.clone()
    }

    pub fn client_id(&self) -> String {
        lock(&self.shared.settings).app.client_id.clone()
    }

    pub fn client_secret(&self) -> Option<String> {
        lock(&self.shared.settings).app.client_secret.clone()
    }

    /// `{base_url}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.base_url, self.tenant_id())
    }

    /// `{base_url}/adminapi/beta/{tenant}/InvokeCommand`.
    pub fn invoke_command_url(&self) -> String {
        format!(
            "{}/adminapi/beta/{}/InvokeCommand",
            self.base_url,
            self.tenant_id()
        )
    }
}

// ---- routing ----------------------------------------------------------------------------

fn dispatch(shared: &Shared, req: &Request) -> Response {
    shared.request_count.fetch_add(1, Ordering::SeqCst);
    let path = percent_decode(&req.path, false);
    let resp = route(shared, req, &path);
    let fault = match resp.fate {
        Fate::Normal => None,
        Fate::Drop => Some("drop".to_owned()),
        Fate::Truncate => Some("truncate".to_owned()),
    };
    lock(&shared.request_log).push(RequestRecord {
        method: req.method.clone(),
        path,
        status: resp.status,
        fault,
    });
    resp
}

fn latency(shared: &Shared, faults: &Faults) {
    let mut ms = faults.latency_ms;
    if faults.jitter_ms > 0 {
        ms += lock(&shared.prng).below(faults.jitter_ms + 1);
    }
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Path segments after `/v1.0` or `/beta`: `/users/{id}/mailFolders…` → the mailbox key
/// (user id when resolvable) for the per-mailbox concurrency limit.
pub fn mailbox_key(shared: &Shared, rest: &str) -> Option<String> {
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    if segs.len() >= 3
        && segs[0].eq_ignore_ascii_case("users")
        && segs[2].eq_ignore_ascii_case("mailFolders")
    {
        let st = lock(&shared.state);
        return Some(
            st.user(segs[1])
                .map(|u| u.id.clone())
                .unwrap_or_else(|| segs[1].to_ascii_lowercase()),
        );
    }
    None
}

/// The mailbox an Exchange `InvokeCommand` request works on, for the per-mailbox
/// concurrency limit: the `Mailbox` parameter of the `*-InboxRule` cmdlets, else an
/// `X-AnchorMailbox: UPN:<upn>` header naming a mailbox (system-mailbox anchors of
/// tenant-wide cmdlets count for nobody). Keyed like Graph's (`mailbox_key`): the mailbox's
/// Entra user id when it has one, so Graph and Exchange calls share one budget.
pub fn exo_mailbox_key(shared: &Shared, req: &Request) -> Option<String> {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let input = &body["CmdletInput"];
    let cmdlet = input["CmdletName"].as_str().unwrap_or_default();
    let from_param = cmdlet
        .to_ascii_lowercase()
        .ends_with("-inboxrule")
        .then(|| {
            input["Parameters"].as_object().and_then(|p| {
                p.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("Mailbox"))
                    .and_then(|(_, v)| v.as_str())
                    .map(str::to_owned)
            })
        })
        .flatten();
    let identity = from_param.or_else(|| {
        let anchor = req.header("x-anchormailbox")?;
        let (kind, who) = anchor.split_once(':')?;
        (kind.eq_ignore_ascii_case("UPN")
            && !who.to_ascii_lowercase().starts_with("systemmailbox{"))
        .then(|| who.trim().to_owned())
    })?;
    let st = lock(&shared.state);
    Some(match st.find_mailbox(&identity) {
        Some(m) if !m.external_directory_object_id.is_empty() => {
            m.external_directory_object_id.clone()
        }
        Some(m) => m.guid.clone(),
        None => identity.to_ascii_lowercase(),
    })
}

fn route(shared: &Shared, req: &Request, path: &str) -> Response {
    let settings = shared.settings();
    let faults = settings.faults.clone();
    let ctx = shared.new_ctx(&req.headers);
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();

    // Token endpoint: /{tenant}/oauth2/v2.0/token
    if segs.len() == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token" {
        latency(shared, &faults);
        if req.method != "POST" {
            return Response::new(405).header("Allow", "POST");
        }
        return crate::token::token_endpoint(shared, segs[0], req, &ctx);
    }
    // Device authorization: /{tenant}/oauth2/v2.0/devicecode (`device_code`).
    if segs.len() == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "devicecode" {
        latency(shared, &faults);
        if req.method != "POST" {
            return Response::new(405).header("Allow", "POST");
        }
        return crate::device_code::devicecode_endpoint(shared, segs[0], req, &ctx);
    }

    let is_graph = matches!(segs.first(), Some(&"v1.0") | Some(&"beta"));
    // Exchange `$batch` of InvokeCommand items (`crate::exo_batch`): an Exchange request
    // whose items count against their own mailboxes, not the batch's.
    let is_exo_batch = segs.len() == 4
        && segs[0].eq_ignore_ascii_case("adminapi")
        && segs[1].eq_ignore_ascii_case("beta")
        && segs[3] == "$batch";
    let is_exo = is_exo_batch
        || (segs.len() == 4
            && segs[0].eq_ignore_ascii_case("adminapi")
            && segs[1].eq_ignore_ascii_case("beta")
            && segs[3].eq_ignore_ascii_case("InvokeCommand"));
    if !is_graph && !is_exo {
        latency(shared, &faults);
        return respond::graph_error(
            400,
            "BadRequest",
            &format!("Invalid version: {}", segs.first().unwrap_or(&"")),
            &ctx,
        );
    }

    let applies = faults.path_contains.is_empty() || path.contains(&faults.path_contains);
    let mut guard = None;
    if faults.mailbox_concurrency_limit > 0 {
        let key = if is_graph {
            mailbox_key(shared, &path[segs[0].len() + 1..])
        } else if is_exo_batch {
            None
        } else {
            exo_mailbox_key(shared, req)
        };
        if let Some(key) = key {
            let (g, n) = acquire_mailbox(shared, &key);
            if n > faults.mailbox_concurrency_limit {
                drop(g);
                latency(shared, &faults);
                shared.mailbox_throttled.fetch_add(1, Ordering::SeqCst);
                return if is_exo {
                    respond::exo_application_throttled(faults.retry_after.as_deref(), &ctx)
                } else {
                    respond::application_throttled(faults.retry_after.as_deref(), &ctx)
                };
            }
            guard = Some(g);
        }
    }
    latency(shared, &faults);

    if applies {
        let mut s = lock(&shared.settings);
        let f = &mut s.faults;
        if f.drop_next > 0 {
            f.drop_next -= 1;
            let mut r = Response::new(0);
            r.fate = Fate::Drop;
            return r;
        }
        if f.burst_503 > 0 {
            f.burst_503 -= 1;
            drop(s);
            return if is_exo {
                let mut r = Response::new(503).header("Content-Type", "text/html");
                r.body = b"<html><body>Service Unavailable</body></html>".to_vec();
                r
            } else {
                respond::service_unavailable(&ctx)
            };
        }
        drop(s);
        if shared.chance(faults.drop_rate) {
            let mut r = Response::new(0);
            r.fate = Fate::Drop;
            return r;
        }
        if shared.chance(faults.rate_429) {
            return if is_exo {
                let mut r = Response::new(429).header("Content-Type", "application/json");
                if let Some(ra) = &faults.retry_after {
                    r = r.header("Retry-After", ra);
                }
                r.body = br#"{"error":{"code":"TooManyRequests","message":"Too many requests"}}"#
                    .to_vec();
                r
            } else {
                respond::too_many_requests(faults.retry_after.as_deref(), &ctx)
            };
        }
    }

    let audience = if is_exo {
        Audience::Exchange
    } else {
        Audience::Graph
    };
    let caller = match authenticate(shared, req, audience, &ctx) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut resp = if is_exo_batch {
        crate::exo_batch::batch(shared, &caller, segs[2], req, &ctx)
    } else if is_exo {
        crate::exchange::invoke_command(shared, &caller, segs[2], req, &ctx)
    } else {
        let version = segs[0];
        let rest = &path[version.len() + 1..];
        if rest == "/$batch" {
            crate::batch::batch(shared, &caller, version, req, &ctx)
        } else {
            crate::graph::handle(
                shared,
                &caller,
                &crate::graph::GraphReq {
                    method: &req.method,
                    version,
                    path: rest,
                    query: &req.query,
                    headers: &req.headers,
                    body: &req.body,
                    in_batch: false,
                },
                &ctx,
            )
        }
    };
    drop(guard);

    if applies && resp.fate == Fate::Normal && !resp.body.is_empty() {
        let mut s = lock(&shared.settings);
        if s.faults.truncate_next > 0 {
            s.faults.truncate_next -= 1;
            resp.fate = Fate::Truncate;
        } else {
            drop(s);
            if shared.chance(faults.truncate_rate) {
                resp.fate = Fate::Truncate;
            }
        }
    }
    resp
}

/// Bearer check: present, known, unexpired, right audience.
fn authenticate(
    shared: &Shared,
    req: &Request,
    audience: Audience,
    ctx: &Ctx,
) -> Result<Caller, Response> {
    let exo_401 = || {
        Response::new(401)
            .header("request-id", &ctx.request_id)
            .header(
                "WWW-Authenticate",
                "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", error=\"invalid_token\"",
            )
    };
    let token = req
        .header("authorization")
        .and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_owned())
        })
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(match audience {
            Audience::Graph => respond::graph_unauthorized("Access token is empty.", ctx),
            Audience::Exchange => exo_401(),
        });
    };
    let issued = lock(&shared.tokens).get(&token).cloned();
    let Some(issued) = issued else {
        return Err(match audience {
            Audience::Graph => respond::graph_unauthorized("IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format.", ctx),
            Audience::Exchange => exo_401(),
        });
    };
    if issued.audience != audience {
        return Err(match audience {
            Audience::Graph => respond::graph_unauthorized(
                "Access token validation failure. Invalid audience.",
                ctx,
            ),
            Audience::Exchange => exo_401(),
        });
    }
    if issued.expires_at <= now_epoch() {
        return Err(match audience {
            Audience::Graph => respond::graph_unauthorized(
                "Lifetime validation failed, the token is expired.",
                ctx,
            ),
            Audience::Exchange => exo_401(),
        });
    }
    Ok(Caller {
        roles: issued.roles,
        wids: issued.wids,
    })
}
