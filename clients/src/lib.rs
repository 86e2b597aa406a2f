//! The client side of sshmatrix: key specifications and the key factory (types, sizes, formats,
//! passphrases), key tools and client profiles as data (`keytools.toml`, `profiles/*.toml`),
//! RFC 4253 negotiation and the server KEXINIT probe, and the russh-based client emulator.

#![warn(missing_docs)]

pub mod certs;
pub mod current;
pub mod driver;
pub mod emulator;
pub mod error;
pub mod factory;
pub mod install;
pub mod keyspec;
pub mod keytool;
pub mod load;
pub mod material;
pub mod negotiate;
pub mod profile;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

pub use certs::CertSpec;
pub use driver::Driver;
pub use emulator::{ClientOutcome, Stage, Verdict};
pub use factory::{KeyFactory, KeyFile};
pub use keyspec::KeySpec;
pub use keytool::{key_tools, Container, KeyFormat, KeyTool};
pub use negotiate::{negotiate, probe, ServerHello};
pub use profile::{builtin_profiles, Profile};
