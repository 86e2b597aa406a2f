//! The sshmatrix harness: matrix model and validation, planner, runner and result stream.
//! The `sshmatrix` binary is a thin CLI over this library and the clients, servers and reports
//! crates.

#![warn(missing_docs)]

pub mod advice;
pub mod bench;
pub use sshmatrix_core::bounded;
pub mod diagnose;
pub mod error;
pub mod events;
pub mod evidence;
pub mod expect;
pub mod fidelity;
pub mod grants;
pub mod hints;
pub mod impact;
pub mod libraries;
pub mod matrix;
pub mod predict;
pub mod record;
pub mod runner;
pub mod scale;
pub mod scan;
pub mod serve;
pub mod words;
pub mod workdir;

/// Exit code: the run completed and every expectation was met.
pub const EXIT_OK: i32 = 0;
/// Exit code: the run completed but expectations were not met.
pub const EXIT_EXPECTATIONS: i32 = 1;
/// Exit code: bad input or usage (malformed matrix, unknown name, impossible key).
pub const EXIT_INPUT: i32 = 2;
/// Exit code: environment problem (no sshd, no puttygen, unwritable work directory).
pub const EXIT_ENVIRONMENT: i32 = 3;
/// Exit code: interrupted (SIGINT/SIGTERM); partial results are in the stream.
pub const EXIT_INTERRUPTED: i32 = 130;

/// The most cells a run may run at once (`--jobs`, `[run] jobs`): each holds an sshd and a
/// client, so more only adds memory.
pub const MAX_JOBS: usize = 1024;
