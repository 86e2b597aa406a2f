//! The axes of a matrix: keys, passphrases, holders, certificates, and the client / key-tool pairs (every
//! name checked against the catalog, the nearest name offered).

use toml::Spanned;

use sshmatrix_clients::{KeySpec, KeyTool, Profile};

use super::ctx::Ctx;
use super::raw::{Pass, RawAxes, RawMatrix};
use super::{position, Catalog, Holder, InputError};

/// How to write a key the matrix misspelled: the spelling it most likely meant (`rsa4096`,
/// `RSA_4096` → `rsa-4096`), else the pattern.
pub(super) fn key_hint(written: &str) -> String {
    let lower = written.to_lowercase().replace(['_', ' ', ':', '/'], "-");
    let split = lower.find(|c: char| c.is_ascii_digit());
    let meant = match split {
        Some(i) if !lower[..i].ends_with('-') => format!("{}-{}", &lower[..i], &lower[i..]),
        _ => lower.clone(),
    };
    // `ed-25519` is `ed25519`: the family name itself has digits.
    let joined = lower.replace('-', "");
    let parses = |s: &String| s.parse::<KeySpec>().is_ok() && s != written;
    match [meant, joined].into_iter().find(parses) {
        Some(m) => format!("did you mean `{m}`?"),
        None => "key names look like rsa-2048, ecdsa-256, ed25519, dsa-1024".into(),
    }
}

pub(super) fn keys(ctx: &Ctx, axes: &RawAxes) -> Result<Vec<KeySpec>, InputError> {
    let mut keys = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for k in axes.keys.get_ref() {
        let spec: KeySpec =
            k.get_ref()
                .parse()
                .map_err(|e: sshmatrix_clients::keyspec::KeySpecError| {
                    ctx.err(k.span(), e.to_string(), Some(key_hint(k.get_ref())))
                })?;
        if !seen.insert(spec.to_string()) {
            return Err(ctx.err(
                k.span(),
                format!("key `{spec}` is listed twice"),
                Some("remove the duplicate".into()),
            ));
        }
        keys.push(spec);
    }
    if keys.is_empty() {
        return Err(ctx.err(
            axes.keys.span(),
            "the keys axis is empty",
            Some("list at least one key, e.g. keys = [\"rsa-2048\"]".into()),
        ));
    }

    Ok(keys)
}

/// The values of an optional axis: `absent` when the file leaves it out, else each listed
/// value read by `read`, refused when listed twice or when the list is empty.
fn listed<W, T: PartialEq>(
    ctx: &Ctx,
    list: Option<&Spanned<Vec<Spanned<W>>>>,
    absent: T,
    (what, example): (&str, &str),
    read: impl Fn(&Spanned<W>) -> Result<T, InputError>,
) -> Result<Vec<T>, InputError> {
    let Some(list) = list else {
        return Ok(vec![absent]);
    };
    let mut out = Vec::new();
    for item in list.get_ref() {
        let v = read(item)?;
        if out.contains(&v) {
            return Err(ctx.err(
                item.span(),
                format!("{what} value listed twice"),
                Some("remove the duplicate".into()),
            ));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(ctx.err(
            list.span(),
            format!("the {what} axis is empty"),
            Some(format!("write {example} or leave it out")),
        ));
    }
    Ok(out)
}

pub(super) fn passphrases(ctx: &Ctx, axes: &RawAxes) -> Result<Vec<bool>, InputError> {
    let what = ("passphrase", "[\"yes\", \"no\"]");
    listed(ctx, axes.passphrase.as_ref(), false, what, |p| {
        match p.get_ref() {
            Pass::Bool(b) => Ok(*b),
            Pass::Word(w) if w == "yes" => Ok(true),
            Pass::Word(w) if w == "no" => Ok(false),
            Pass::Word(w) => Err(ctx.err(
                p.span(),
                format!("passphrase value `{w}` is not yes/no"),
                Some("write \"yes\", \"no\", true or false".into()),
            )),
        }
    })
}

pub(super) fn holders(ctx: &Ctx, axes: &RawAxes) -> Result<Vec<Holder>, InputError> {
    let what = ("holders", "[\"file\", \"agent\"]");
    listed(ctx, axes.holders.as_ref(), Holder::File, what, |h| {
        Holder::parse(h.get_ref()).ok_or_else(|| {
            ctx.unknown(
                "holder",
                h,
                Holder::NAMES.iter().copied(),
                "docs/guide.md, Matrix files",
            )
        })
    })
}

/// The certificates axis: `none` (the bare key) or a certificate word per value; absent, the
/// bare key alone.
pub(super) fn certificates(
    ctx: &Ctx,
    axes: &RawAxes,
) -> Result<Vec<Option<sshmatrix_clients::CertSpec>>, InputError> {
    let what = ("certificates", "[\"none\", \"ed25519\"]");
    listed(ctx, axes.certificates.as_ref(), None, what, |w| {
        match w.get_ref().as_str() {
            "none" => Ok(None),
            word => word
                .parse()
                .map(Some)
                .map_err(|e: sshmatrix_clients::certs::CertSpecError| {
                    let words = sshmatrix_clients::CertSpec::words();
                    let hint = match crate::hints::nearest(word, words.iter().map(String::as_str)) {
                        Some(near) => {
                            format!("did you mean `{near}`? (docs/guide.md, Certificates)")
                        }
                        None => "see docs/guide.md, Certificates".to_string(),
                    };
                    ctx.err(w.span(), e.to_string(), Some(hint))
                }),
        }
    })
}

/// What a matrix field names: a client profile or a server policy.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Client,
    Policy,
}

/// A hint for a name of the other kind (a client profile given as a policy, or a policy as a
/// client): what it is, and for a release's client the policy of that release's defaults.
pub(super) fn other_kind(catalog: &Catalog, wanted: Kind, name: &str) -> Option<String> {
    let is = |id: &String| id.eq_ignore_ascii_case(name);
    match wanted {
        Kind::Policy if catalog.profiles.iter().any(|p| is(&p.id)) => {
            let version = name.rsplit('-').next().unwrap_or(name);
            let same = catalog
                .policies
                .iter()
                .find(|p| p.id.strip_prefix("upstream-") == Some(version));
            Some(match same {
                Some(p) => format!(
                    "`{name}` is a client profile; the server policy of that release's defaults is `{}` (see `sshmatrix policies`)",
                    p.id
                ),
                None => format!("`{name}` is a client profile, not a server policy (see `sshmatrix policies`)"),
            })
        }
        Kind::Client if catalog.policies.iter().any(|p| is(&p.id)) => Some(format!(
            "`{name}` is a server policy (a target's `policy`), not a client profile (see `sshmatrix profiles`)"
        )),
        _ => None,
    }
}

/// The client profile a matrix names (its image must exist).
pub(super) fn find_client(
    ctx: &Ctx,
    catalog: &Catalog,
    n: &Spanned<String>,
) -> Result<Profile, InputError> {
    let ids = || catalog.profiles.iter().map(|p| p.id.as_str());
    let p = catalog
        .profiles
        .iter()
        .find(|p| &p.id == n.get_ref())
        .cloned()
        .ok_or_else(|| {
            let e = ctx.unknown("client profile", n, ids(), "`sshmatrix profiles`");
            e.with_hint(other_kind(catalog, Kind::Client, n.get_ref()))
        })?;
    match p.image.as_deref().map(sshmatrix_servers::container::recipe) {
        Some(Err(e)) => Err(ctx.err(
            n.span(),
            format!("client profile `{}`: {e}", p.id),
            Some("fix the profile's `image`".into()),
        )),
        _ => Ok(p),
    }
}

/// The key tool a matrix names.
pub(super) fn find_tool(
    ctx: &Ctx,
    catalog: &Catalog,
    n: &Spanned<String>,
) -> Result<KeyTool, InputError> {
    let ids = || catalog.key_tools.iter().map(|t| t.id.as_str());
    catalog
        .key_tools
        .iter()
        .find(|t| &t.id == n.get_ref())
        .cloned()
        .ok_or_else(|| ctx.unknown("key tool", n, ids(), "`sshmatrix profiles`"))
}

/// Every name error of a matrix text at once — keys that do not parse, unknown clients, key
/// tools and policies — in file order, at most `limit` (for `check`; the planner stops at the
/// first error of any kind). Empty when the text does not parse as a matrix at all.
pub fn name_errors(file: &str, text: &str, catalog: &Catalog, limit: usize) -> Vec<InputError> {
    let ctx = Ctx { file, text };
    let Ok(raw) = toml::from_str::<RawMatrix>(text) else {
        return Vec::new();
    };
    let mut errs: Vec<InputError> = Vec::new();
    for k in raw.axes.keys.get_ref() {
        if let Err(e) = k.get_ref().parse::<KeySpec>() {
            errs.push(ctx.err(k.span(), e.to_string(), Some(key_hint(k.get_ref()))));
        }
    }
    let mut clients: Vec<&Spanned<String>> = Vec::new();
    let mut tools: Vec<&Spanned<String>> = Vec::new();
    if let Some(p) = &raw.axes.pairs {
        for pair in p.get_ref() {
            clients.push(&pair.client);
            tools.push(&pair.key_tool);
        }
    }
    clients.extend(
        raw.axes
            .clients
            .iter()
            .flat_map(|c| c.get_ref())
            .filter(|c| !c.get_ref().starts_with('@')),
    );

    tools.extend(raw.axes.key_tools.iter().flat_map(|t| t.get_ref()));
    errs.extend(
        clients
            .into_iter()
            .filter_map(|c| find_client(&ctx, catalog, c).err()),
    );
    errs.extend(
        tools
            .into_iter()
            .filter_map(|t| find_tool(&ctx, catalog, t).err()),
    );
    for t in raw.targets.get_ref() {
        if !catalog.policies.iter().any(|p| &p.id == t.policy.get_ref()) {
            let ids = catalog.policies.iter().map(|p| p.id.as_str());
            let e = ctx.unknown("policy", &t.policy, ids, "`sshmatrix policies`");
            errs.push(e.with_hint(other_kind(catalog, Kind::Policy, t.policy.get_ref())));
        }
    }
    errs.sort_by_key(|e| e.position);
    errs.dedup_by(|a, b| a.position == b.position);
    errs.truncate(limit);
    errs
}

/// The `clients` axis with its groups written out, each keeping the span of the word that
/// named it: `@current` (the newest emulated profile of each family), `@GROUP` (the emulated
/// profiles of a profile group: `@windows`, `@automation`), and `-real` after either for the
/// real programs instead.
fn expand_current(
    ctx: &Ctx,
    listed: &[Spanned<String>],
    catalog: &Catalog,
) -> Result<Vec<Spanned<String>>, InputError> {
    let groups = client_groups(catalog);
    let mut out = Vec::new();
    for c in listed {
        let Some(group) = c.get_ref().strip_prefix('@') else {
            out.push(c.clone());
            continue;
        };
        let (group, real) = match group.strip_suffix("-real") {
            Some(g) => (g, true),
            None => (group, false),
        };
        if group != "current" && !groups.iter().any(|g| g == group) {
            // A group no profile names is a typo.
            let names = std::iter::once("current").chain(groups.iter().map(String::as_str));
            return Err(ctx.unknown("client group", c, names, "`sshmatrix profiles --long`"));
        }
        let members: Vec<&Profile> = match group {
            "current" => sshmatrix_clients::current::current(catalog.profiles.iter()),
            g => catalog
                .profiles
                .iter()
                .filter(|p| p.groups.iter().any(|x| x == g))
                .collect(),
        };
        out.extend(
            members
                .into_iter()
                .filter(|p| p.driver.is_some() == real)
                .map(|p| Spanned::new(c.span(), p.id.clone())),
        );
    }
    Ok(out)
}

/// The client groups profiles name (`windows`, `automation`), sorted.
fn client_groups(catalog: &Catalog) -> Vec<String> {
    let mut g: Vec<String> = catalog
        .profiles
        .iter()
        .flat_map(|p| p.groups.iter().cloned())
        .collect();
    g.sort();
    g.dedup();
    g
}

pub(super) fn pairs(
    ctx: &Ctx,
    axes: &RawAxes,
    catalog: &Catalog,
) -> Result<Vec<(Profile, KeyTool)>, InputError> {
    let find_client = |n: &Spanned<String>| find_client(ctx, catalog, n);
    let find_tool = |n: &Spanned<String>| find_tool(ctx, catalog, n);
    let mut pairs: Vec<(Profile, KeyTool)> = Vec::new();
    let mut taken = std::collections::HashSet::new();
    match (&axes.pairs, &axes.clients, &axes.key_tools) {
        (Some(p), None, None) => {
            for pair in p.get_ref() {
                let c = find_client(&pair.client)?;
                let t = find_tool(&pair.key_tool)?;
                if !taken.insert((c.id.clone(), t.id.clone())) {
                    return Err(ctx.err(pair.client.span(), format!("pair {} / {} is listed twice", c.id, t.id), Some("remove the duplicate".into())));
                }
                pairs.push((c, t));
            }
            if pairs.is_empty() {
                return Err(ctx.err(p.span(), "the pairs axis is empty", Some("list at least one { client = ..., key_tool = ... }".into())));
            }
        }
        (None, Some(cs), Some(ts)) => {
            for (list, what) in [(cs, "clients"), (ts, "key_tools")] {
                if list.get_ref().is_empty() {
                    return Err(ctx.err(list.span(), format!("the {what} axis is empty"), Some(format!("list at least one entry in {what}"))));
                }
            }
            let mut seen = std::collections::HashSet::new();
            for c in expand_current(ctx, cs.get_ref(), catalog)? {
                let c2 = find_client(&c)?;
                if !seen.insert(c2.id.clone()) {
                    return Err(ctx.err(c.span(), format!("client `{}` is listed twice", c2.id), Some("remove the duplicate".into())));
                }
                for t in ts.get_ref() {
                    let t2 = find_tool(t)?;
                    if !taken.insert((c2.id.clone(), t2.id.clone())) {
                        return Err(ctx.err(t.span(), format!("key tool `{}` is listed twice", t2.id), Some("remove the duplicate".into())));
                    }
                    pairs.push((c2.clone(), t2));
                }
            }
        }
        (Some(p), _, _) => {
            return Err(ctx.err(p.span(), "give either `pairs` or `clients` with `key_tools`, not both", Some("pairs fixes client/key-tool combinations; clients × key_tools is the full cross product".into())))
        }
        _ => {
            return Err(InputError {
                file: ctx.file.to_string(),
                position: Some(position(ctx.text, axes.keys.span().start)),
                message: "the [axes] table needs `pairs`, or both `clients` and `key_tools`".into(),
                hint: Some("e.g. clients = [\"putty-0.83\"] and key_tools = [\"puttygen-0.83\"]".into()),
            })
        }
    }

    Ok(pairs)
}
