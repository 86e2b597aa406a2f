//! Dropbear `dbclient`: keys converted with dropbearconvert (Dropbear has no passphrase support,
//! so an encrypted key is the client's own key-load failure), the server reached with `-J` (a
//! proxy command) or a one-shot port. Key files only, no agents or jump hosts.

use std::path::PathBuf;

use super::{DriverCell, Invocation, Route};
use crate::{KeyFactory, KeyFile};

pub(super) fn prepare_key(factory: &KeyFactory, key: &KeyFile) -> Result<PathBuf, String> {
    if key.encrypted {
        return Err(
            "dbclient cannot use encrypted key files (Dropbear has no passphrase support)".into(),
        );
    }
    factory
        .dropbear_copy(key)
        .map_err(|e| format!("cannot convert the key for dbclient: {e}"))
}

pub(super) fn invocation(c: &DriverCell) -> Invocation {
    let mut argv: Vec<String> = vec![
        "dbclient".into(),
        "-y".into(),
        "-y".into(),
        "-i".into(),
        c.key.display().to_string(),
    ];
    match &c.route {
        Route::Proxy(p) => argv.extend(["-J".into(), p.clone()]),
        Route::Port(p) | Route::Jump { port: p, .. } => argv.extend(["-p".into(), p.to_string()]),
    }
    argv.extend(c.session.args(format!("{}@{}", c.login, c.route.host())));
    Invocation {
        argv,
        env: Vec::new(),
        stdin_piped: false,
        typed: None,
    }
}
