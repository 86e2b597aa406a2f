//! The failed-authentication budget of remote accounts: a real appliance locks an account after
//! a few failed logins (faillock; field report §5), so sshmatrix records every failed login per
//! host and account in the work directory and defers cells once the budget of the window is
//! spent. The ledger survives runs, so two runs in a row cannot exceed it either.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The persistent ledger of failed logins.
pub struct Budget {
    path: PathBuf,
    failures: BTreeMap<String, Vec<u64>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Budget {
    /// Loads the ledger at `path` (empty when missing or unreadable).
    pub fn load(path: PathBuf) -> Self {
        let failures = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Budget { path, failures }
    }

    fn key(host: &str, port: u16, user: &str) -> String {
        format!("{user}@{host}:{port}")
    }

    /// Failed logins of the account within the last `window` seconds.
    pub fn spent(&self, host: &str, port: u16, user: &str, window: u64) -> usize {
        let since = now().saturating_sub(window);
        self.failures
            .get(&Self::key(host, port, user))
            .map_or(0, |v| v.iter().filter(|t| **t >= since).count())
    }

    /// Records a failed login and saves the ledger (0600).
    pub fn record(&mut self, host: &str, port: u16, user: &str) {
        self.failures
            .entry(Self::key(host, port, user))
            .or_default()
            .push(now());
        if let Ok(text) = serde_json::to_string_pretty(&self.failures) {
            let _ = sshmatrix_clients::factory::write_private(&self.path, text.as_bytes());
        }
    }
}
