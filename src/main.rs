//! The `m365guard` binary: parse arguments, run the library, map the outcome to an exit
//! code. Errors print their cause chain; a closed stdout (`| head`) is not an error.

use std::process::ExitCode;

use clap::Parser;
use m365guard::cli::{self, Cli};
use m365guard::findings::ExitStatus;

// Snapshots of large tenants are parsed into millions of small allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
    match cli::run(cli) {
        Ok(status) => ExitCode::from(status as u8),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(ExitStatus::Error as u8)
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
