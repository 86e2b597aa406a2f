//! The server side of sshmatrix: server policies as data (`policies/*.toml`, each fact with its
//! source), OpenSSH sshd targets in inetd mode (one process per connection) on this host or in
//! containers, Dropbear, ProFTPD `mod_sftp` and Twisted Conch targets (a daemon per connection) in containers (images built offline, Dockerfiles in `images/`), and server log analysis.

#![warn(missing_docs)]

pub mod asyncssh;
pub mod conch;
pub mod container;
pub mod daemon;
pub mod dialect;
pub mod directive;
pub mod dropbear;
pub mod error;
pub mod helper;
pub mod log;
pub mod owner;
pub mod peer;
pub mod policy;
pub mod proftpd;
pub mod relay;
pub mod sshd;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

pub use log::{analyse, ServerView};
pub use policy::{builtin_policies, Policy, ServerFacts, ServerKind};
pub use sshd::{
    find_sshd, stopped_from_outside, Effective, Endpoint, Finished, HostKeyStore, ServerSession,
    ServerStream, SshdTarget, TargetError, TargetSpec,
};
