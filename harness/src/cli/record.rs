//! `sshmatrix record`: turn a real client into a profile by letting it log in to a recording
//! server a few times (any client, by hand), or by running a real client sshmatrix can drive
//! (`--client`). The hidden `record-one` serves one connection on standard input and output
//! for the driven recording.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sshmatrix::record::{self, Connection, HostKeys, Meta, ReadsSeen, Recorded, Step};
use sshmatrix::{EXIT_ENVIRONMENT, EXIT_EXPECTATIONS, EXIT_INTERRUPTED, EXIT_OK};
use sshmatrix_clients::{Container, Profile};
use tokio::io::AsyncBufReadExt;

use super::common::input_error;

/// Arguments of `sshmatrix record`.
#[derive(clap::Args)]
pub struct RecordArgs {
    /// Where the recording server listens: `127.0.0.1:PORT`, or a bare PORT (0: any free port).
    #[arg(long, default_value = "127.0.0.1:2222", value_name = "ADDR")]
    listen: String,
    /// Allow --listen on an address other than loopback (the client is on another machine).
    #[arg(long)]
    allow_remote: bool,
    /// Record this real client (`sshmatrix profiles real-`) by running it, instead of waiting
    /// for a client to connect.
    #[arg(long, value_name = "PROFILE")]
    client: Option<String>,
    /// Where the profile goes (default: `ID.toml` in the current directory).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// The profile id (default: `recorded-NAME-VERSION` from the identification string).
    #[arg(long)]
    id: Option<String>,
    /// Product name (default: read from the identification string).
    #[arg(long)]
    name: Option<String>,
    /// Product version (default: read from the identification string).
    #[arg(long)]
    version: Option<String>,
    /// A profile to take what no server can observe from (no-server-sig-algs behaviour, key
    /// file formats, passphrase support).
    #[arg(long, value_name = "PROFILE")]
    base: Option<String>,
    /// The key file formats the client reads (openssh-v1, pem, pkcs8, ppk-v2, ppk-v3), when
    /// you know them: a server cannot see them.
    #[arg(long, value_delimiter = ',', value_name = "FORMATS")]
    reads: Vec<String>,
    /// Add a last step: log in with an RSA key held by an agent (ssh-agent, Pageant).
    #[arg(long)]
    agent: bool,
    /// Seconds to wait for each connection (by hand) or each login (--client).
    #[arg(long, default_value_t = 300)]
    wait: u64,
    /// Failed connections in a row (no SSH, closed early) before the recording stops.
    #[arg(long, default_value_t = 3)]
    attempts: usize,
    /// Also write every connection's observations as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    work: super::WorkDir,
}

/// What a recording brought: the connections, the key containers seen, and whether Ctrl-C
/// ended it.
struct Recording {
    conns: Vec<Connection>,
    reads: Option<ReadsSeen>,
    interrupted: bool,
}

/// Arguments of the hidden `record-one`.
#[derive(clap::Args)]
pub struct RecordOneArgs {
    /// The server-sig-algs answer.
    #[arg(long, value_enum)]
    offer: record::Offer,
    /// What the step logs in with.
    #[arg(long, value_enum)]
    holding: record::Holding,
    /// The directory holding the host keys.
    #[arg(long)]
    host_keys: PathBuf,
    /// Where the connection's JSON goes.
    #[arg(long)]
    out: PathBuf,
    /// Seconds of silence that end the connection.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

/// `sshmatrix record-one` (hidden): one recorded connection on standard input and output.
pub fn record_one(a: RecordOneArgs) -> ExitCode {
    let keys = match HostKeys::load(&a.host_keys) {
        Ok(k) => k,
        Err(e) => return environment(e),
    };
    let step = Step {
        offer: a.offer,
        holding: a.holding,
    };
    let conn = super::common::runtime().block_on(async {
        let stream = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        let timeout = Duration::from_secs(a.timeout);
        record::record_connection(stream, step, &keys, timeout, Some(&a.out)).await
    });
    record::save(&a.out, &conn);
    ExitCode::from(EXIT_OK as u8)
}

fn environment(message: String) -> ExitCode {
    crate::cli::common::error(&message);
    ExitCode::from(EXIT_ENVIRONMENT as u8)
}

/// The listening address: loopback unless `--allow-remote`.
fn listen_addr(a: &RecordArgs) -> Result<SocketAddr, ExitCode> {
    let text = a.listen.trim();
    let addr: SocketAddr = match text.parse::<u16>() {
        Ok(port) => SocketAddr::from(([127, 0, 0, 1], port)),
        Err(_) => text.parse().map_err(|_| {
            input_error(format!(
                "--listen {text}: not an address\n  hint: give 127.0.0.1:PORT or a bare PORT"
            ))
        })?,
    };
    if !addr.ip().is_loopback() {
        if !a.allow_remote {
            return Err(input_error(format!(
                "--listen {addr}: not a loopback address\n  hint: add --allow-remote to let a client on another machine connect (anyone who can reach the port can)"
            )));
        }
        eprintln!("warning: the recording server listens on {addr}: anyone who can reach it can connect (it accepts no login)");
    }
    Ok(addr)
}

/// The known profiles' ids of one kind, for messages.
fn ids(profiles: &[Profile], real: bool) -> String {
    let v: Vec<&str> = profiles
        .iter()
        .filter(|p| p.driver.is_some() == real)
        .map(|p| p.id.as_str())
        .collect();
    v.join(", ")
}

/// `--base` and `--reads`, checked.
fn inputs<'a>(
    a: &RecordArgs,
    profiles: &'a [Profile],
) -> Result<(Option<&'a Profile>, Option<ReadsSeen>), ExitCode> {
    let base = match &a.base {
        None => None,
        Some(id) => Some(profiles.iter().find(|p| &p.id == id).ok_or_else(|| {
            input_error(format!(
                "--base {id}: no such profile\n  hint: one of {}",
                ids(profiles, false)
            ))
        })?),
    };
    let mut reads = Vec::new();
    for r in &a.reads {
        let c = Container::ALL
            .into_iter()
            .find(|c| c.name() == r.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Container::ALL.iter().map(|c| c.name()).collect();
                input_error(format!(
                    "--reads {r}: not a key file format\n  hint: one of {}",
                    names.join(", ")
                ))
            })?;
        reads.push(c);
    }
    let reads = (!reads.is_empty()).then(|| (reads, "given with --reads".to_string()));
    Ok((base, reads))
}

/// `sshmatrix record`.
pub fn command(a: RecordArgs) -> ExitCode {
    // Checked first, whichever mode: a work directory others can reach is never used.
    if let Err(e) = sshmatrix::workdir::resolve(a.work.work_dir.clone()) {
        return super::common::fail_run(e);
    }
    let (profiles, tools, _) = super::common::catalog_parts();
    let (base, reads) = match inputs(&a, &profiles) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let recording = match &a.client {
        Some(id) => drive(&a, id, &profiles, &tools),
        None => listen(&a),
    };
    let Recording {
        conns,
        reads: seen_reads,
        interrupted,
    } = match recording {
        Ok(r) => r,
        Err(code) => return code,
    };
    let date = today();
    let meta = Meta {
        id: a.id.clone().unwrap_or_else(|| default_id(&conns)),
        name: a.name.clone(),
        version: a.version.clone(),
        date,
        base,
        reads: reads.or(seen_reads),
    };
    let recorded = record::infer(&conns, &meta);
    for c in conns.iter().filter(|_| a.client.is_some()) {
        println!("  {}", summary(c));
    }
    if let (Some(id), Some(p)) = (&a.client, &recorded.profile) {
        let known = profiles
            .iter()
            .find(|k| &k.id == id)
            .expect("driven profile");
        let diffs = record::compare(p, known);
        println!(
            "compared with the profile `{id}`: {} difference(s)",
            diffs.len()
        );
        for d in diffs {
            println!("  {d}");
        }
    }
    let code = write(&a, &meta.id, &conns, &recorded);
    match interrupted {
        true => ExitCode::from(EXIT_INTERRUPTED as u8),
        false => code,
    }
}

/// `recorded-NAME-VERSION` from the first identification seen.
fn default_id(conns: &[Connection]) -> String {
    let ident = conns
        .iter()
        .find_map(|c| c.hello.as_ref())
        .map(|h| h.ident.clone())
        .unwrap_or_default();
    let (n, v) = record::name_version(&ident);
    let raw = format!("recorded-{n}-{v}").to_lowercase();
    raw.chars()
        .map(|c| match c.is_ascii_alphanumeric() || c == '.' {
            true => c,
            false => '-',
        })
        .collect()
}

/// Writes the profile (and the JSON) and says what is in it; exit 0 when complete, 1 partial.
fn write(a: &RecordArgs, id: &str, conns: &[Connection], r: &Recorded) -> ExitCode {
    if let Some(j) = &a.json {
        if let Err(e) = std::fs::write(j, serde_json::to_string_pretty(conns).expect("json")) {
            return environment(format!("{}: {e}", j.display()));
        }
    }
    for p in &r.problems {
        eprintln!("problem: {p}");
    }
    let Some(text) = record::to_toml(r) else {
        crate::cli::common::error("nothing recorded: no profile written");
        return ExitCode::from(EXIT_EXPECTATIONS as u8);
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{id}.toml")));
    if let Err(e) = std::fs::write(&out, text) {
        return environment(format!("{}: {e}", out.display()));
    }
    for u in &r.unobserved {
        println!("  not observed: {u}");
    }
    let done = match r.complete() {
        true => "profile",
        false => "PARTIAL profile (see the problems above)",
    };
    println!(
        "wrote {done} `{id}` to {}\n  use it: sshmatrix --profiles {} try --client {id} --policy rhel9-default",
        out.display(),
        out.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(".".into(), |p| p.display().to_string())
    );
    ExitCode::from(if r.complete() {
        EXIT_OK
    } else {
        EXIT_EXPECTATIONS
    } as u8)
}

/// A driven recording of a real client.
fn drive(
    a: &RecordArgs,
    id: &str,
    profiles: &[Profile],
    tools: &[sshmatrix_clients::KeyTool],
) -> Result<Recording, ExitCode> {
    let Some(profile) = profiles.iter().find(|p| p.id == id && p.driver.is_some()) else {
        return Err(input_error(format!(
            "--client {id}: not a real client sshmatrix can run\n  hint: one of {}; record any other client by pointing it at the recording server (leave out --client)",
            ids(profiles, true)
        )));
    };
    let work_dir =
        sshmatrix::workdir::resolve(a.work.work_dir.clone()).map_err(super::common::fail_run)?;
    let factory = match sshmatrix::runner::key_factory(&work_dir) {
        Ok(f) => f,
        Err(e) => return Err(super::common::fail_run(e)),
    };
    let tool_id = sshmatrix::fidelity::native_key_tool(profile);
    let tool = tools
        .iter()
        .find(|t| t.id == tool_id)
        .expect("built-in key tool");
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sshmatrix"));
    let d = record::Driven {
        profile,
        exe: &exe,
        work_dir: &work_dir,
        factory: &factory,
        tool,
        timeout: Duration::from_secs(a.wait.min(60)),
    };
    match super::common::runtime().block_on(record::drive(&d)) {
        Ok(d) => {
            for s in &d.skips {
                println!("  - {s}");
            }
            Ok(Recording {
                conns: d.conns,
                reads: d.reads,
                interrupted: false,
            })
        }
        Err(e) => Err(environment(e)),
    }
}

/// What ended the wait for one step's connection.
enum Event {
    Connected(tokio::net::TcpStream),
    Skip,
    Stop(String),
    Interrupted,
}

/// A recording by hand: listen, say what to do, record each connection.
fn listen(a: &RecordArgs) -> Result<Recording, ExitCode> {
    let addr = listen_addr(a)?;
    let keys = HostKeys::generate().map_err(environment)?;
    super::common::runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            environment(format!(
                "cannot listen on {addr}: {e}\n  hint: pick another port with --listen 127.0.0.1:PORT (0: any free port)"
            ))
        })?;
        let local = listener.local_addr().map_err(|e| environment(e.to_string()))?;
        let (conns, interrupted) = session(a, &listener, local, &keys).await;
        drop(listener);
        Ok(Recording {
            conns,
            reads: None,
            interrupted,
        })
    })
}

async fn session(
    a: &RecordArgs,
    listener: &tokio::net::TcpListener,
    local: SocketAddr,
    keys: &HostKeys,
) -> (Vec<Connection>, bool) {
    let steps = record::steps(a.agent);
    println!(
        "Recording server on {local}. Point the SSH client at host {} port {}, any user name.\n\
         Every login fails on purpose; no password, key or signature is kept.\n\
         Its host keys are made for this recording only (accept the one your client shows):\n  {}",
        local.ip(),
        local.port(),
        keys.fingerprints().join("\n  ")
    );
    let interactive = std::io::stdin().is_terminal();
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut conns = Vec::new();
    for (i, &step) in steps.iter().enumerate() {
        let mut failures = 0;
        println!(
            "\nStep {} of {}: {}.{}",
            i + 1,
            steps.len(),
            step.instruction(),
            if interactive {
                " (Enter skips this step)"
            } else {
                ""
            }
        );
        loop {
            let event = next_event(listener, &mut stdin, interactive, a.wait).await;
            let stream = match event {
                Event::Connected(s) => s,
                Event::Skip => break,
                Event::Stop(why) => {
                    eprintln!("stopping: {why}");
                    return (conns, false);
                }
                Event::Interrupted => {
                    eprintln!("interrupted: writing what was recorded so far");
                    return (conns, true);
                }
            };
            let c =
                record::record_connection(stream, step, keys, Duration::from_secs(30), None).await;
            println!("  {}", summary(&c));
            let failed = c.problem.is_some();
            conns.push(c);
            if !failed {
                break;
            }
            failures += 1;
            if failures >= a.attempts {
                eprintln!("stopping: {failures} failed connections in a row");
                return (conns, false);
            }
            println!("  try again: {}", step.instruction());
        }
    }
    (conns, false)
}

/// Waits for a connection, a line on a terminal's standard input (skip), `wait` seconds of
/// nothing, or Ctrl-C.
async fn next_event(
    listener: &tokio::net::TcpListener,
    stdin: &mut tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>,
    interactive: bool,
    wait: u64,
) -> Event {
    tokio::select! {
        r = listener.accept() => match r {
            Ok((s, _)) => Event::Connected(s),
            Err(e) => Event::Stop(format!("accepting a connection failed: {e}")),
        },
        l = stdin.next_line(), if interactive => match l {
            Ok(Some(_)) => Event::Skip,
            _ => Event::Stop("standard input closed".into()),
        },
        _ = tokio::time::sleep(Duration::from_secs(wait)) => {
            Event::Stop(format!("no connection within {wait} s (--wait)"))
        }
        _ = tokio::signal::ctrl_c() => Event::Interrupted,
    }
}

/// One line on what a connection showed.
fn summary(c: &Connection) -> String {
    if let Some(p) = &c.problem {
        return format!("× {p}");
    }
    let ident = c.hello.as_ref().map_or("?", |h| h.ident.as_str());
    let keys: Vec<String> = c
        .keys
        .iter()
        .map(|k| {
            format!(
                "{} {}{}",
                k.algorithm,
                if k.queried { "queried" } else { "" },
                if k.signed {
                    if k.queried {
                        ", signed"
                    } else {
                        "signed first"
                    }
                } else {
                    ""
                }
            )
        })
        .collect();
    match keys.is_empty() {
        true => format!(
            "○ {ident}: no public key offered (tried: {})",
            c.methods.join(", ")
        ),
        false => format!("○ {ident}: {}", keys.join("; ")),
    }
}

/// Today as YYYY-MM-DD (UTC).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    // Howard Hinnant's days-to-civil.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn today_is_a_date() {
        let t = super::today();
        assert_eq!(t.len(), 10);
        assert!(t.starts_with("20"), "{t}");
    }
}
