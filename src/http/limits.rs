//! Client-side throttling shared by the Graph and Exchange clients (CONTRACT §10): a cap on
//! requests in flight per resource (Graph, Exchange), at most three concurrent requests per
//! mailbox (Microsoft allows four; one is left for other apps and for our own retries), and
//! one request per second for the Conditional Access and Identity Protection APIs, which
//! throttle at 1 rps per tenant *without* `Retry-After`. Staying under the limits is cheaper
//! than being throttled: a 429 costs a round trip plus a back-off.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Requests in flight per resource unless `M365GUARD_CONCURRENCY` says otherwise. Graph's
/// identity budget (CONTRACT §10, 3,500–8,000 resource units per 10 s) and Exchange's
/// observed 30,000-per-window budget are far above what 32 concurrent requests spend.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// Concurrent requests per mailbox (Microsoft's limit is 4).
pub const PER_MAILBOX: usize = 3;

/// Minimum spacing of requests to the 1-request-per-second APIs (a little over a second, so
/// clock granularity on either side never makes two requests look closer than 1 s).
pub const PACED_INTERVAL: Duration = Duration::from_millis(1050);

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Graph,
    Exchange,
}

/// The limits of one collection run, shared by every client and thread of it.
#[derive(Debug)]
pub struct Limits {
    concurrency: usize,
    graph: Semaphore,
    exchange: Semaphore,
    mailboxes: KeyedSemaphore,
    paced: Mutex<HashMap<&'static str, Instant>>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(DEFAULT_CONCURRENCY)
    }
}

impl Limits {
    /// `concurrency` requests in flight per resource (at least 1). With 1 the run is fully
    /// serial and unbatched — how per-user PowerShell scripts work, the benchmark baseline.
    pub fn new(concurrency: usize) -> Limits {
        let concurrency = concurrency.max(1);
        Limits {
            concurrency,
            graph: Semaphore::new(concurrency),
            exchange: Semaphore::new(concurrency),
            mailboxes: KeyedSemaphore::new(PER_MAILBOX.min(concurrency)),
            paced: Mutex::new(HashMap::new()),
        }
    }

    /// From `M365GUARD_CONCURRENCY` (a positive integer), else the default.
    pub fn from_env() -> Limits {
        let n = std::env::var("M365GUARD_CONCURRENCY")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_CONCURRENCY);
        Limits::new(n)
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Whether per-user Graph calls go through `$batch` (off for the serial baseline).
    pub fn batching(&self) -> bool {
        self.concurrency > 1
    }

    /// Wait for room to send one request; the returned guard frees it when dropped.
    /// `mailbox` names the mailbox a request touches, `paced` a 1-rps API family.
    pub fn enter(
        &self,
        resource: Resource,
        mailbox: Option<&str>,
        paced: Option<&'static str>,
    ) -> Entered<'_> {
        // Mailbox first: a request waiting for its mailbox must not hold a resource slot
        // that requests for other mailboxes could use.
        let mailbox = mailbox.map(|key| self.mailboxes.acquire(key));
        let resource = match resource {
            Resource::Graph => self.graph.acquire(),
            Resource::Exchange => self.exchange.acquire(),
        };
        if let Some(family) = paced {
            self.pace(family);
        }
        Entered {
            _resource: resource,
            _mailbox: mailbox,
        }
    }

    fn pace(&self, family: &'static str) {
        let mut last = lock(&self.paced);
        if let Some(prev) = last.get(family) {
            let due = *prev + PACED_INTERVAL;
            let now = Instant::now();
            if due > now {
                // Holding the lock on purpose: the next request of any paced family waits
                // behind this one, which keeps the spacing exact without a queue.
                std::thread::sleep(due - now);
            }
        }
        last.insert(family, Instant::now());
    }
}

/// Room for one request; released on drop.
pub struct Entered<'a> {
    _resource: SemaphoreGuard<'a>,
    _mailbox: Option<KeyedGuard<'a>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct Semaphore {
    free: Mutex<usize>,
    cv: Condvar,
}

impl Semaphore {
    fn new(n: usize) -> Semaphore {
        Semaphore {
            free: Mutex::new(n),
            cv: Condvar::new(),
        }
    }

    fn acquire(&self) -> SemaphoreGuard<'_> {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = self.cv.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        SemaphoreGuard { sem: self }
    }
}

struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.sem.free) += 1;
        self.sem.cv.notify_one();
    }
}

/// One small semaphore per key (mailbox), created on first use and dropped when idle.
#[derive(Debug)]
struct KeyedSemaphore {
    per_key: usize,
    busy: Mutex<HashMap<String, usize>>,
    cv: Condvar,
}

impl KeyedSemaphore {
    fn new(per_key: usize) -> KeyedSemaphore {
        KeyedSemaphore {
            per_key: per_key.max(1),
            busy: Mutex::new(HashMap::new()),
            cv: Condvar::new(),
        }
    }

    fn acquire(&self, key: &str) -> KeyedGuard<'_> {
        let key = key.to_ascii_lowercase();
        let mut busy = lock(&self.busy);
        while busy.get(&key).copied().unwrap_or(0) >= self.per_key {
            busy = self.cv.wait(busy).unwrap_or_else(PoisonError::into_inner);
        }
        *busy.entry(key.clone()).or_insert(0) += 1;
        KeyedGuard { sem: self, key }
    }
}

struct KeyedGuard<'a> {
    sem: &'a KeyedSemaphore,
    key: String,
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        let mut busy = lock(&self.sem.busy);
        if let Some(n) = busy.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.key);
            }
        }
        // Waiters may be waiting on different keys: wake them all to re-check.
        self.sem.cv.notify_all();
    }
}

/// The mailbox a Graph path touches (`/users/{id}/mailFolders…`, `/users/{id}/messages…`,
/// `/users/{id}/mailboxSettings`), for the per-mailbox limit.
pub fn mailbox_of(path: &str) -> Option<&str> {
    let rest = path
        .trim_start_matches('/')
        .trim_start_matches("v1.0/")
        .trim_start_matches("beta/");
    let mut segs = rest.split(['/', '?']);
    let (users, id, what) = (segs.next()?, segs.next()?, segs.next()?);
    let what = what.to_ascii_lowercase();
    (users.eq_ignore_ascii_case("users")
        && ["mailfolders", "messages", "mailboxsettings"].contains(&what.as_str()))
    .then_some(id)
}

/// The 1-rps family of a Graph path (CONTRACT §10), if any.
pub fn paced_family(path: &str) -> Option<&'static str> {
    let p = path.to_ascii_lowercase();
    if p.contains("/identity/conditionalaccess") {
        Some("conditional_access")
    } else if p.contains("/identityprotection/") {
        Some("identity_protection")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn mailbox_paths() {
        assert_eq!(
            mailbox_of("/v1.0/users/u1/mailFolders/inbox/messageRules"),
            Some("u1")
        );
        assert_eq!(mailbox_of("/users/u2/mailboxSettings"), Some("u2"));
        assert_eq!(mailbox_of("/v1.0/users/u1?$select=id"), None);
        assert_eq!(
            mailbox_of("/beta/users/u1/authentication/requirements"),
            None
        );
    }

    #[test]
    fn paced_paths() {
        assert_eq!(
            paced_family("/v1.0/identity/conditionalAccess/policies"),
            Some("conditional_access")
        );
        assert_eq!(
            paced_family("http://h/v1.0/identityProtection/riskyUsers?$skiptoken=x"),
            Some("identity_protection")
        );
        assert_eq!(paced_family("/v1.0/users"), None);
    }

    /// Run `threads` workers that each enter once and record the peak in flight.
    fn peak(limits: &Limits, threads: usize, mailbox: impl Fn(usize) -> String + Sync) -> usize {
        let now = AtomicUsize::new(0);
        let max = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for i in 0..threads {
                let (now, max, mailbox) = (&now, &max, &mailbox);
                s.spawn(move || {
                    let key = mailbox(i);
                    let _in = limits.enter(Resource::Graph, Some(&key), None);
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        max.load(Ordering::SeqCst)
    }

    #[test]
    fn at_most_three_requests_per_mailbox() {
        let limits = Limits::new(16);
        assert_eq!(peak(&limits, 10, |_| "Lena".into()), PER_MAILBOX);
        // Different mailboxes share only the resource limit.
        let spread = peak(&limits, 10, |i| format!("m{i}"));
        assert!(spread > PER_MAILBOX, "{spread}");
    }

    #[test]
    fn resource_limit_caps_requests_in_flight() {
        let limits = Limits::new(2);
        assert_eq!(peak(&limits, 8, |i| format!("m{i}")), 2);
        assert!(!Limits::new(1).batching() && limits.batching());
    }

    #[test]
    fn paced_family_is_spaced_a_second_apart() {
        let limits = Limits::new(4);
        let start = Instant::now();
        for _ in 0..3 {
            let _in = limits.enter(Resource::Graph, None, Some("conditional_access"));
        }
        assert!(
            start.elapsed() >= PACED_INTERVAL * 2,
            "{:?}",
            start.elapsed()
        );
        // Another family is not slowed by this one's history beyond the shared lock.
        let t = Instant::now();
        let _in = limits.enter(Resource::Graph, None, Some("identity_protection"));
        assert!(t.elapsed() < Duration::from_millis(500));
    }
}
