//! The fidelity check: every real-client profile (one with a `driver`) runs side by side with
//! the emulation profile it is based on, over every policy, key type and passphrase setting;
//! cells where they disagree are bugs in a profile or in the engine.

use sshmatrix_clients::Profile;
use sshmatrix_reports::diff::identity_of;
use sshmatrix_reports::{CellResult, Report};
use sshmatrix_servers::Policy;

/// A key tool whose files the client reads natively: OpenSSH's format where it reads that, else
/// PPK v3, PPK v2 (PuTTY before 0.75), traditional PEM (JSch 0.1.55).
pub fn native_key_tool(p: &Profile) -> &'static str {
    use sshmatrix_clients::Container;
    let tools = [
        (Container::OpensshV1, "ssh-keygen"),
        (Container::PpkV3, "puttygen-0.78"),
        (Container::PpkV2, "puttygen-0.74"),
        (Container::Pem, "ssh-keygen-pem"),
    ];
    let reads = |c: &Container| p.reads.contains(c);
    // Rather a format the client reads for every key type (net-ssh reads openssh-key-v1 files
    // for Ed25519 only: PEM it is).
    let whole = |c: &Container| reads(c) && !p.partial_reads.iter().any(|r| r.container == *c);
    tools
        .iter()
        .find(|(c, _)| whole(c))
        .or_else(|| tools.iter().find(|(c, _)| reads(c)))
        .map_or("ssh-keygen", |(_, t)| t)
}

/// Each real-client profile with the profile it is checked against: its `base`.
pub fn base_pairs(profiles: &[Profile]) -> Vec<(&Profile, String)> {
    profiles
        .iter()
        .filter(|p| p.driver.is_some())
        .map(|p| (p, p.base.clone().unwrap_or_else(|| p.id.clone())))
        .collect()
}

/// The matrix of the check: every pair's real client and twin with the real client's native
/// key tool, over every policy.
pub fn matrix(pairs: &[(&Profile, String)], policies: &[Policy]) -> String {
    let mut t = String::from(
        "title = \"Fidelity: real clients against their emulation profiles\"\n[run]\nmax_cells = 100000\n[axes]\n\
         keys = [\"rsa-2048\", \"ecdsa-256\", \"ed25519\"]\npassphrase = [\"no\", \"yes\"]\npairs = [\n",
    );
    for (p, twin) in pairs {
        let tool = native_key_tool(p);
        t.push_str(&format!("  {{ client = \"{}\", key_tool = \"{tool}\" }},\n  {{ client = \"{twin}\", key_tool = \"{tool}\" }},\n", p.id));
    }
    t.push_str("]\n");
    for pol in policies {
        t.push_str(&match crate::matrix::check::release_image(pol) {
            None => format!(
                "[[targets]]\nid = \"{0}\"\npolicy = \"{0}\"\nusers = [\"u\"]\n",
                pol.id
            ),
            Some(image) => format!(
                "[[targets]]\nid = \"{0}\"\npolicy = \"{0}\"\nkind = \"container\"\nimage = \"{image}\"\nusers = [\"sshmatrix\"]\n",
                pol.id
            ),
        });
    }
    t
}

/// One real cell and its emulated twin.
pub struct Pair<'a> {
    /// The real client's cell.
    pub real: &'a CellResult,
    /// The emulator's cell.
    pub emulated: &'a CellResult,
}

impl Pair<'_> {
    /// Whether the emulator could not speak what the real client negotiated.
    pub fn beyond_emulation(&self) -> bool {
        self.emulated.code == sshmatrix_reports::Code::EmulationLimit
    }

    /// Whether both logged in, or both failed with the same code.
    pub fn agrees(&self) -> bool {
        self.real.verdict == self.emulated.verdict && self.real.code == self.emulated.code
    }
}

/// Pairs every real cell of the report with its twin's cell (`twins`: real id, twin id).
pub fn pairs<'a>(report: &'a Report, twins: &[(&Profile, String)]) -> Vec<Pair<'a>> {
    let mut out = Vec::new();
    for real in &report.cells {
        let Some((_, twin_id)) = twins.iter().find(|(p, _)| p.id == real.client) else {
            continue;
        };
        let twin = identity_of(
            twin_id,
            &real.key_tool,
            &real.key_type,
            real.key_bits,
            real.passphrase,
            &real.user,
            &real.target,
        );
        if let Some(emulated) = report
            .cells
            .iter()
            .find(|c| sshmatrix_reports::diff::identity(c) == twin)
        {
            out.push(Pair { real, emulated });
        }
    }
    out
}

/// The fidelity report: agreement per real profile and every disagreement.
pub fn render(pairs: &[Pair]) -> String {
    let mut out = String::new();
    let mut clients: Vec<&str> = pairs.iter().map(|p| p.real.client.as_str()).collect();
    clients.dedup();
    for client in clients {
        let mine: Vec<&Pair> = pairs.iter().filter(|p| p.real.client == client).collect();
        let limited: Vec<&&Pair> = mine.iter().filter(|p| p.beyond_emulation()).collect();
        let claimed: Vec<&&Pair> = mine.iter().filter(|p| !p.beyond_emulation()).collect();
        let agree = claimed.iter().filter(|p| p.agrees()).count();
        out.push_str(&format!(
            "{client} vs {}: {agree}/{} cells agree ({:.1}%) where emulation claims support; {} cells beyond emulation\n",
            mine.first().map(|p| p.emulated.client.as_str()).unwrap_or("?"),
            claimed.len(),
            100.0 * agree as f64 / claimed.len().max(1) as f64,
            limited.len()
        ));
        for p in claimed.iter().filter(|p| !p.agrees()) {
            out.push_str(&format!(
                "  DISAGREE {}-{} passphrase={} @{}: real {} [{}] {} | emulated {} [{}] {}\n",
                p.real.key_type,
                p.real.key_bits,
                if p.real.passphrase { "yes" } else { "no" },
                p.real.target,
                p.real.verdict.as_str(),
                p.real.code,
                p.real.reason,
                p.emulated.verdict.as_str(),
                p.emulated.code,
                p.emulated.reason
            ));
        }
        let mut limits: Vec<String> = limited.iter().map(|p| p.emulated.reason.clone()).collect();
        limits.sort();
        limits.dedup();
        for l in limits {
            out.push_str(&format!("  limit: {l}\n"));
        }
    }
    out
}

/// Runs a real client against a capture stub (this binary's hidden `capture-kexinit` command,
/// as its proxy command or behind a one-shot port for a client in a container: `inside`) and
/// returns the identification and KEXINIT lists it sent.
pub async fn capture(
    profile: &Profile,
    exe: &std::path::Path,
    dir: &std::path::Path,
    key: &sshmatrix_clients::KeyFile,
    factory: &sshmatrix_clients::KeyFactory,
    inside: Option<&[String]>,
    program: Option<&[String]>,
) -> Result<sshmatrix_clients::ServerHello, String> {
    let out = dir.join(format!("kexinit-{}.json", profile.id));
    let _ = std::fs::remove_file(&out);
    let askpass = dir.join("askpass.sh");
    let timeout = std::time::Duration::from_secs(10);
    let server = crate::runner::drivers::ServerEnd::for_command(
        format!(
            "'{}' capture-kexinit --out '{}'",
            exe.display(),
            out.display()
        ),
        inside.is_some() || profile.driver.is_some_and(|d| d.needs_port()),
        timeout,
    )
    .await
    .map_err(|e| e.to_string())?;
    let real = crate::runner::drivers::RealCell {
        profile,
        server,
        host_key_pubs: Vec::new(),
        key,
        login: "capture",
        log: dir.join(format!("capture-{}.log", profile.id)),
        askpass: &askpass,
        inside,
        helper: None,
        agent: None,
        password: None,
        jump: None,
        timeout,
        program,
        certificate: None,
        password_after_key: false,
        keyboard_interactive: false,
        known_hosts: None,
    };
    let _ = crate::runner::drivers::run(real, factory).await;
    let text = std::fs::read_to_string(&out)
        .map_err(|e| format!("{}: no KEXINIT captured ({e})", profile.id))?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// The first of `keys` the client can load (its key families, and the file containers it
/// reads where it reads the file as it is).
fn key_for<'a>(
    p: &Profile,
    keys: &'a [sshmatrix_clients::KeyFile],
) -> Option<&'a sshmatrix_clients::KeyFile> {
    keys.iter().find(|k| {
        let c = k.format.container;
        p.auth.key_families.iter().any(|f| f == k.spec.family())
            && (!p.reads_key_file_as_is()
                || (p.reads.contains(&c) && p.partial_refusal(c, k.spec.family(), false).is_none()))
    })
}

/// The keys a capture needs: an Ed25519 key in openssh-key-v1 form, an ECDSA P-256 key in
/// traditional PEM for clients that read neither Ed25519 nor openssh-key-v1 (JSch 0.1.55), and
/// an RSA one in PEM for those that read no ECDSA either (Trilead).
pub fn capture_keys(
    factory: &sshmatrix_clients::KeyFactory,
    tools: &[sshmatrix_clients::KeyTool],
) -> Result<Vec<sshmatrix_clients::KeyFile>, String> {
    use sshmatrix_clients::KeySpec;
    [
        (KeySpec::Ed25519, "ssh-keygen"),
        (KeySpec::Ecdsa(256), "ssh-keygen-pem"),
        (KeySpec::Rsa(2048), "ssh-keygen-pem"),
    ]
    .into_iter()
    .map(|(spec, id)| {
        let tool = tools
            .iter()
            .find(|t| t.id == id)
            .ok_or(format!("no key tool {id}"))?;
        factory.get(spec, tool, false).map_err(|e| e.to_string())
    })
    .collect()
}

/// Captures the KEXINIT of every real-client profile, starting one client container per image
/// the in-image ones need (removed before returning). Each client is given the first of
/// `keys` it can load.
pub async fn capture_all(
    profiles: &[Profile],
    exe: &std::path::Path,
    work_dir: &std::path::Path,
    keys: &[sshmatrix_clients::KeyFile],
    factory: &sshmatrix_clients::KeyFactory,
) -> Result<Vec<(String, Result<sshmatrix_clients::ServerHello, String>)>, String> {
    use sshmatrix_servers::container::Container;
    let dir = tempfile::Builder::new()
        .prefix("capture-")
        .tempdir_in(work_dir)
        .map_err(|e| e.to_string())?;
    // The library clients, installed once for all their captures.
    let libraries = crate::libraries::library_profiles(profiles);
    let programs =
        crate::libraries::ensure_all(&libraries, work_dir, &mut |m| eprintln!("sshmatrix: {m}"))
            .map_err(|e| e.to_string())?;
    let mut containers: Vec<(String, Container)> = Vec::new();
    let mut out = Vec::new();
    for p in profiles.iter().filter(|p| p.driver.is_some()) {
        let inside = match &p.image {
            None => None,
            Some(image) => {
                if !containers.iter().any(|(n, _)| n == image) {
                    let c = client_container(image, work_dir, "KEXINIT capture").await?;
                    containers.push((image.clone(), c));
                }
                containers
                    .iter()
                    .find(|(n, _)| n == image)
                    .map(|(_, c)| c.exec_prefix())
            }
        };
        let program = programs.get(&p.id).map(Vec::as_slice);
        let Some(key) = key_for(p, keys) else {
            out.push((
                p.id.clone(),
                Err(format!("{}: no capture key it can load", p.id)),
            ));
            continue;
        };
        let sent = capture(p, exe, dir.path(), key, factory, inside.as_deref(), program).await;
        out.push((p.id.clone(), sent));
    }
    for (_, c) in containers {
        c.remove().await;
    }
    Ok(out)
}

/// Starts a container of `image` (built first when missing) for real clients that run in it;
/// the caller removes it.
pub async fn client_container(
    image: &str,
    work_dir: &std::path::Path,
    purpose: &str,
) -> Result<sshmatrix_servers::container::Container, String> {
    use sshmatrix_servers::container::{recipe, Container};
    let r = recipe(image).map_err(|e| e.to_string())?;
    let scratch = work_dir.join("images");
    sshmatrix_servers::container::ensure_image(&r, &scratch, &mut std::io::stderr())
        .map_err(|e| e.to_string())?;
    let run = format!(
        "{}-{}",
        purpose.replace(' ', "-").to_lowercase(),
        std::process::id()
    );
    Container::start(
        purpose,
        &r,
        &run,
        Vec::new(),
        &[work_dir.to_path_buf()],
        &[],
    )
    .await
    .map_err(|e| e.to_string())
}

/// Differences between a profile's lists and a captured KEXINIT, one line per category.
pub fn compare_kexinit(profile: &Profile, sent: &sshmatrix_clients::ServerHello) -> Vec<String> {
    let l = &profile.kexinit;
    let mut out = Vec::new();
    if profile.ident != sent.ident {
        out.push(format!(
            "ident: profile `{}`, sent `{}`",
            profile.ident, sent.ident
        ));
    }
    for (name, want, got) in [
        ("kex", &l.kex, &sent.kex),
        ("hostkey", &l.hostkey, &sent.hostkey),
        ("cipher", &l.cipher, &sent.cipher_c2s),
        ("mac", &l.mac, &sent.mac_c2s),
        ("compression", &l.compression, &sent.comp_c2s),
    ] {
        if want != got {
            out.push(format!(
                "{name}: profile {}\n      sent    {}",
                want.join(","),
                got.join(",")
            ));
        }
    }
    out
}
