//! The server side of sshmatrix: server policies as data (`policies/*.toml`, each fact with its
//! source), the local OpenSSH sshd target backend (inetd mode, one process per connection), and
//! server log analysis.

pub mod log;
pub mod policy;
pub mod sshd;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

pub use log::{analyse, ServerView};
pub use policy::{builtin_policies, Policy};
pub use sshd::{
    find_sshd, Effective, HostKeyStore, LocalTarget, ServerSession, ServerStream, TargetError,
    TargetSpec,
};
