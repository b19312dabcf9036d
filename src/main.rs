//! The `m365guard` binary: parse arguments, run the library, map the outcome to an exit
//! code. Errors print their cause chain; a closed stdout (`| head`) is not an error.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use m365guard::cli::{self, Cli};
use m365guard::findings::ExitStatus;

// Snapshots of large tenants are parsed into millions of small allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Starts the profile's clock (`M365GUARD_PROFILE`) before anything else runs.
    m365guard::profile::enabled();
    no_library_backtraces();
    no_transparent_huge_pages();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version are not errors.
            let code = if err.use_stderr() {
                ExitStatus::Error as u8
            } else {
                0
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let progress = cli.shows_progress(
        std::io::stderr().is_terminal(),
        std::env::var_os("CI").is_some(),
    );
    logging::init(cli.verbose, cli.log_format, progress);
    let outcome = cli::run(cli);
    logging::finish();
    let code = match outcome {
        Ok(status) => status as u8,
        Err(err) if is_broken_pipe(&err) => 0,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitStatus::Error as u8
        }
    };
    exit_now(code)
}

/// End the process without the allocator's clean-up at exit: mimalloc, linked statically,
/// hands every freed page back to the OS when the process exits (`mi_process_done` forces
/// a collect: one `madvise` per segment, ~500 calls and 0.05–0.1 s after a 100k-user
/// scan), for memory the OS takes back anyway a moment later. Everything that matters is
/// done before: reports are written and synced, stdout is flushed here (stderr is not
/// buffered), and nothing else registers work at exit.
#[cfg(unix)]
fn exit_now(code: u8) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` only ends the process; no Rust code runs after it, so no invariant
    // of this program can be observed broken.
    unsafe { libc::_exit(i32::from(code)) }
}

/// Elsewhere (libc is a Unix-only dependency): the ordinary exit.
#[cfg(not(unix))]
fn exit_now(code: u8) -> ! {
    std::process::exit(i32::from(code))
}

/// No backtrace for library errors unless `RUST_LIB_BACKTRACE` asks for one. They are never
/// printed here (`main` prints the cause chain), but with `RUST_BACKTRACE=1` in the
/// environment, as on many developer machines and CI runners, every anyhow error captures
/// one: regorus's policy parser creates ~3,000 errors while it tries alternatives, so a scan
/// spent ~20 ms unwinding stacks (12% of the instructions of a 5k-user scan under callgrind;
/// 0.04–0.06 s → 0.02 s for the bundled example). Panics still print their backtrace under
/// `RUST_BACKTRACE`.
fn no_library_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // First thing in `main`, before any thread exists: nothing reads the environment
        // concurrently.
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// Turn transparent huge pages off for this process (Linux), unless `MIMALLOC_ALLOW_THP`
/// says otherwise. mimalloc asks for huge pages (`madvise(MADV_HUGEPAGE)`), and where the
/// kernel's THP `defrag` setting is `madvise` (a common default) every such fault may
/// compact memory synchronously and zeroes 2 MiB at once: on the 2-core benchmark machine
/// that was ~3.8 s of system time in a 100k-user scan, against ~1.1 s with small pages
/// (README, Performance). Only advice to the kernel: an error changes nothing.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: prctl with PR_SET_THP_DISABLE takes plain integers and only sets a flag
        // of the calling process.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1 as libc::c_ulong, 0, 0, 0);
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => Some(io.kind()),
            None => cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind),
        };
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// `-v`/`-vv` logs on stderr (text or JSON lines) and the progress spinner, both fed by
/// the library's `tracing` events. Only m365guard's own events are shown: a dependency's
/// debug output could carry request headers. The spinner is driven by two events: one with
/// `progress_total` starts it, each with `step` or `source` advances it.
mod logging {
    use std::io::{self, Write};
    use std::sync::{Mutex, MutexGuard, PoisonError};
    use std::time::Duration;

    use indicatif::{ProgressBar, ProgressStyle};
    use m365guard::cli::LogFormat;
    use tracing::field::{Field, Visit};
    use tracing::{Event, Level, Subscriber};
    use tracing_subscriber::filter::{filter_fn, LevelFilter};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

    fn bar() -> MutexGuard<'static, Option<ProgressBar>> {
        BAR.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn init(verbose: u8, format: LogFormat, progress: bool) {
        let level = match verbose {
            0 => LevelFilter::WARN,
            1 => LevelFilter::INFO,
            _ => LevelFilter::DEBUG,
        };
        let ours = |max: LevelFilter| {
            filter_fn(move |meta| meta.target().starts_with("m365guard") && max >= *meta.level())
        };
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(|| StderrAboveBar)
            .with_ansi(false);
        let fmt = match format {
            LogFormat::Text => fmt.boxed(),
            LogFormat::Json => fmt
                .json()
                .with_current_span(false)
                .with_span_list(false)
                .boxed(),
        };
        let spinner = progress.then(|| Spinner.with_filter(ours(LevelFilter::INFO)));
        let _ = tracing_subscriber::registry()
            .with(fmt.with_filter(ours(level)))
            .with(spinner)
            .try_init();
    }

    /// Clear a spinner still on screen (a run that ended early).
    pub fn finish() {
        if let Some(bar) = bar().take() {
            bar.finish_and_clear();
        }
    }

    /// stderr, with the spinner lifted while a log line is written.
    struct StderrAboveBar;

    impl Write for StderrAboveBar {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let current = bar().clone();
            match current {
                Some(bar) => bar.suspend(|| io::stderr().write(buf)),
                None => io::stderr().write(buf),
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            io::stderr().flush()
        }
    }

    struct Spinner;

    #[derive(Default)]
    struct Progress {
        total: Option<u64>,
        step: Option<String>,
        status: Option<String>,
    }

    impl Visit for Progress {
        fn record_u64(&mut self, field: &Field, value: u64) {
            if field.name() == "progress_total" {
                self.total = Some(value);
            }
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            match field.name() {
                "step" | "source" => self.step = Some(value.to_owned()),
                "status" => self.status = Some(value.to_owned()),
                _ => {}
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "status" {
                self.status = Some(format!("{value:?}"));
            }
        }
    }

    impl<S: Subscriber> Layer<S> for Spinner {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            if *event.metadata().level() > Level::INFO {
                return;
            }
            let mut seen = Progress::default();
            event.record(&mut seen);
            let mut slot = bar();
            if let Some(total) = seen.total {
                if let Some(old) = slot.take() {
                    old.finish_and_clear();
                }
                let style = ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bar = ProgressBar::new(total).with_style(style);
                bar.enable_steady_tick(Duration::from_millis(120));
                *slot = Some(bar);
            } else if let (Some(step), Some(bar)) = (seen.step, slot.as_ref()) {
                bar.inc(1);
                let status = seen.status.unwrap_or_default().to_ascii_lowercase();
                bar.set_message(format!("{step} {status}"));
                if bar.length().is_some_and(|len| bar.position() >= len) {
                    bar.finish_and_clear();
                    *slot = None;
                }
            }
        }
    }
}
