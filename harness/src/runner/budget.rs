//! The failed-authentication budget of remote accounts: a real appliance locks an account after
//! a few failed logins (faillock; field report §5), so every login attempt on a remote account
//! first *reserves* a failure in a ledger in the work directory, and only then connects: the
//! reservation counts as spent until the attempt is settled (kept as a failure when the server
//! refused a credential, dropped otherwise). The ledger is read and written under a file lock
//! for every reservation, so concurrent cells of one run, concurrent runs and later runs on
//! this machine together never spend more than the budget. A process killed mid-attempt leaves
//! its reservation behind, counted as a failure until its window passes: the safe side.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The persistent ledger: failed logins and reservations per account (`user@host:port`), each
/// a UNIX time.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    failures: BTreeMap<String, Vec<u64>>,
    #[serde(default)]
    pending: BTreeMap<String, Vec<(String, u64)>>,
}

/// The ledger file of a work directory.
pub struct Budget {
    path: PathBuf,
}

/// A failure reserved for one login attempt, until settled.
#[derive(Debug)]
pub struct Reservation {
    account: String,
    id: String,
}

/// Why an attempt may not be made now: the failures and the reservations of attempts under way
/// already counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    /// Failed logins in the window.
    pub failed: usize,
    /// Attempts under way (each may still fail).
    pub pending: usize,
}

impl Spent {
    /// Whether the budget is spent by failures alone (else an attempt under way may give some
    /// back: worth waiting for).
    pub fn by_failures(self, limit: u32) -> bool {
        self.failed >= limit as usize
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A reservation id unique to this process and call.
fn fresh_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{}-{n}", std::process::id())
}

impl Budget {
    /// The ledger at `path` (created on the first reservation).
    pub fn new(path: PathBuf) -> Self {
        Budget { path }
    }

    fn account(host: &str, port: u16, user: &str) -> String {
        format!("{user}@{host}:{port}")
    }

    /// Runs `f` on the ledger with the lock held, saving it (0600) when `f` says so.
    fn locked<T>(&self, f: impl FnOnce(&mut Ledger) -> (T, bool)) -> T {
        let lock_path = self.path.with_extension("json.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .and_then(|f| f.lock().map(|()| f));
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut ledger = serde_json::from_str::<Ledger>(&text)
            .or_else(|_| {
                // The ledger of earlier releases: failures only.
                serde_json::from_str(&text).map(|failures| Ledger {
                    failures,
                    pending: BTreeMap::new(),
                })
            })
            .unwrap_or_default();
        let (out, save) = f(&mut ledger);
        if save {
            if let Ok(text) = serde_json::to_string_pretty(&ledger) {
                let _ = sshmatrix_clients::factory::write_private(&self.path, text.as_bytes());
            }
        }
        drop(lock);
        out
    }

    /// Failures and reservations of the account within the last `window` seconds.
    pub fn spent(&self, host: &str, port: u16, user: &str, window: u64) -> usize {
        let account = Self::account(host, port, user);
        self.locked(|l| {
            let s = count(l, &account, window);
            (s.failed + s.pending, false)
        })
    }

    /// Reserves one failure for a login attempt, when the account has budget left in the
    /// window; else how much is spent.
    pub fn reserve(
        &self,
        host: &str,
        port: u16,
        user: &str,
        window: u64,
        limit: u32,
    ) -> Result<Reservation, Spent> {
        let account = Self::account(host, port, user);
        self.locked(|l| {
            let spent = count(l, &account, window);
            if spent.failed + spent.pending >= limit as usize {
                return (Err(spent), false);
            }
            let id = fresh_id();
            let mine = (id.clone(), now());
            l.pending.entry(account.clone()).or_default().push(mine);
            (Ok(Reservation { account, id }), true)
        })
    }

    /// Settles a reservation: a failure when the server refused a credential, else nothing.
    pub fn settle(&self, r: Reservation, failed: bool) {
        self.locked(|l| {
            if let Some(list) = l.pending.get_mut(&r.account) {
                list.retain(|(id, _)| *id != r.id);
            }
            if failed {
                l.failures.entry(r.account.clone()).or_default().push(now());
            }
            ((), true)
        })
    }
}

/// Failures and reservations of `account` in the window.
fn count(l: &Ledger, account: &str, window: u64) -> Spent {
    let since = now().saturating_sub(window);
    let failed = l
        .failures
        .get(account)
        .map_or(0, |v| v.iter().filter(|t| **t >= since).count());
    let pending = l
        .pending
        .get(account)
        .map_or(0, |v| v.iter().filter(|(_, t)| *t >= since).count());
    Spent { failed, pending }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_until_settled_across_handles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth-budget.json");
        // Two handles on one ledger stand for two processes.
        let (a, b) = (Budget::new(path.clone()), Budget::new(path));
        let first = a.reserve("h", 22, "root", 900, 2).unwrap();
        let second = b.reserve("h", 22, "root", 900, 2).unwrap();
        let spent = a.reserve("h", 22, "root", 900, 2).unwrap_err();
        assert_eq!(
            spent,
            Spent {
                failed: 0,
                pending: 2
            }
        );
        assert!(!spent.by_failures(2));
        a.settle(first, false);
        let third = b.reserve("h", 22, "root", 900, 2).unwrap();
        b.settle(second, true);
        a.settle(third, true);
        assert_eq!(a.spent("h", 22, "root", 900), 2);
        assert_eq!(a.spent("h", 22, "admin", 900), 0);
    }
}
