//! What became of a child process: whether a signal from outside sshmatrix ended it.

/// Whether a child process was ended by SIGHUP, SIGINT or SIGTERM. sshmatrix ends its children
/// only with SIGKILL, so such a signal came from outside: a terminal's Ctrl-C (or a job
/// controller) signalling sshmatrix's process group while the child was being started, before
/// it had left that group. Whatever the cell then saw was the signal's doing, not the server's.
pub fn stopped_from_outside(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    matches!(status.signal(), Some(1 | 2 | 15))
}

#[cfg(test)]
mod tests {
    use super::stopped_from_outside;

    /// The exit status of a shell that sends itself `signal`.
    fn ended_by(signal: &str) -> std::process::ExitStatus {
        std::process::Command::new("sh")
            .args(["-c", &format!("kill -{signal} $$")])
            .status()
            .unwrap()
    }

    #[test]
    fn only_a_terminal_or_job_controller_signal_counts_as_from_outside() {
        for s in ["HUP", "INT", "TERM"] {
            assert!(stopped_from_outside(&ended_by(s)), "{s}");
        }
        // sshmatrix's own kill, and a server that crashed or exited.
        assert!(!stopped_from_outside(&ended_by("KILL")));
        assert!(!stopped_from_outside(&ended_by("SEGV")));
        let exited = std::process::Command::new("false").status().unwrap();
        assert!(!stopped_from_outside(&exited));
    }
}
