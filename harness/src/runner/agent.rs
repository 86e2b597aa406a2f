//! Real OpenSSH `ssh-agent` processes for agent-holder cells: one per key, listening on a
//! socket in the run's private directory, the key added by `ssh-add` with its passphrase
//! reaching ssh-add through SSH_ASKPASS (a file path in the environment, never argv).

use std::path::Path;
use std::process::Stdio;

use sshmatrix_clients::{KeyFactory, KeyFile};
use tokio::io::AsyncBufReadExt;

/// Starts `ssh-agent -D -a SOCK`, waits until it announces its socket, and adds `key` to it.
/// The agent runs under a small shell that holds the read end of a pipe from this process and
/// kills the agent when that pipe closes — when the returned child is dropped or [`stop`]ped, and
/// equally when sshmatrix itself is killed (SIGKILL included), so no agent outlives its run.
pub async fn start(
    sock: &Path,
    key: &KeyFile,
    factory: &KeyFactory,
    askpass: &Path,
) -> Result<tokio::process::Child, String> {
    let missing = |e: std::io::Error| format!("cannot run ssh-agent: {e} (install openssh-client)");
    let mut agent = tokio::process::Command::new("sh")
        .process_group(0)
        .arg("-c")
        .arg("ssh-agent -D -a \"$1\" </dev/null & read _; kill $!; wait $!")
        .arg("sh")
        .arg(sock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(missing)?;
    // In the foreground (-D) ssh-agent prints `SSH_AUTH_SOCK=…` once it listens.
    let out = agent.stdout.take().expect("piped stdout");
    let mut lines = tokio::io::BufReader::new(out).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .map_err(|_| "ssh-agent did not start within 10 s".to_string())?
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    if !first.starts_with("SSH_AUTH_SOCK=") {
        return Err(format!("ssh-agent did not start: {first}"));
    }
    let file = factory
        .openssh_copy(key)
        .map_err(|e| format!("ssh-add needs an OpenSSH copy of the key: {e}"))?;
    let mut add = tokio::process::Command::new("ssh-add");
    add.process_group(0);
    add.arg(&file)
        .env("SSH_AUTH_SOCK", sock)
        .env("SSH_ASKPASS", askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(pf) = &key.passphrase_file {
        add.env("SSHMATRIX_PASSFILE", pf);
    }
    let done = add.output().await.map_err(missing)?;
    if !done.status.success() {
        return Err(format!(
            "ssh-add refused {}: {}",
            key.spec.label(),
            String::from_utf8_lossy(&done.stderr).trim()
        ));
    }
    Ok(agent)
}

/// Stops an agent started by [`start`] and waits until it is gone.
pub async fn stop(mut agent: tokio::process::Child) {
    drop(agent.stdin.take());
    let _ = agent.wait().await;
}
