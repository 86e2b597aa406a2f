//! sshmatrix's own words in the reader's language: message catalogues as data
//! (`core/i18n/en.ftl`, `core/i18n/ja.ftl`, Project Fluent), plural rules from the Fluent
//! library (CLDR), and the language a process speaks ([`set`], [`current`]; the command line's
//! `--lang`, else `LC_ALL` / `LC_MESSAGES` / `LANG`). Evidence — what a client or server printed —
//! is never translated.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// The arguments of a message (`$n`, `$code`, …).
pub type Args<'a> = FluentArgs<'a>;

/// A language sshmatrix speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: &'static [Lang] = &[Lang::En, Lang::Ja];

    /// The language's code (`en`, `ja`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The language a code or a locale names (`ja`, `ja_JP.UTF-8`, `en-US`); None for others.
    pub fn parse(s: &str) -> Option<Lang> {
        let base = s
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        Lang::ALL.iter().copied().find(|l| l.code() == base)
    }

    /// The language of a locale environment as POSIX orders it: the first set of `LC_ALL`,
    /// `LC_MESSAGES`, `LANG`; English when that is unset, `C`, `POSIX` or a language sshmatrix
    /// does not speak.
    pub fn from_locale(var: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| var(v).filter(|s| !s.is_empty()))
            .map(|s| Lang::parse(&s).unwrap_or_default())
            .next()
            .unwrap_or_default()
    }

    /// The language of this process's locale environment ([`Lang::from_locale`]).
    pub fn from_env() -> Lang {
        Lang::from_locale(|v| std::env::var(v).ok())
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../i18n/en.ftl"),
            Lang::Ja => include_str!("../i18n/ja.ftl"),
        }
    }
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

/// Speak `lang` from now on in this process (what [`current`] returns).
pub fn set(lang: Lang) {
    CURRENT.store(lang as u8, Ordering::Relaxed);
}

/// The language set with [`set`] (English until then).
pub fn current() -> Lang {
    match CURRENT.load(Ordering::Relaxed) {
        1 => Lang::Ja,
        _ => Lang::En,
    }
}

/// A language's catalogue, parsed once.
fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static BUNDLES: [OnceLock<FluentBundle<FluentResource>>; 2] =
        [OnceLock::new(), OnceLock::new()];
    BUNDLES[lang as usize].get_or_init(|| {
        let resource = FluentResource::try_new(lang.source().to_string())
            .unwrap_or_else(|(_, e)| panic!("core/i18n/{}.ftl does not parse: {e:?}", lang.code()));
        let id: unic_langid::LanguageIdentifier =
            lang.code().parse().expect("a language code parses");
        let mut b = FluentBundle::new_concurrent(vec![id]);
        // No Unicode isolation marks around arguments: they would count in terminal widths and
        // show in plain-text reports.
        b.set_use_isolating(false);
        b.add_resource(resource)
            .unwrap_or_else(|e| panic!("core/i18n/{}.ftl repeats ids: {e:?}", lang.code()));
        b
    })
}

/// The message `id` in `lang` with its arguments; English where `lang` lacks it, the id
/// itself where English lacks it too (a test holds both catalogues to one set of ids).
pub fn text(lang: Lang, id: &str, args: Option<&Args>) -> String {
    for l in [lang, Lang::En] {
        let b = bundle(l);
        if let Some(pattern) = b.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            return b.format_pattern(pattern, args, &mut errors).into_owned();
        }
    }
    id.to_string()
}

/// The message `id` in `lang` where the catalogue has it, None where it does not (the
/// Japanese of facts whose English lives with the data: `code-*`, `weak-*`).
pub fn lookup(lang: Lang, id: &str) -> Option<String> {
    let b = bundle(lang);
    let pattern = b.get_message(id)?.value()?;
    let mut errors = Vec::new();
    Some(b.format_pattern(pattern, None, &mut errors).into_owned())
}

/// The message ids of a language's catalogue, in file order.
pub fn ids(lang: Lang) -> Vec<String> {
    use fluent_syntax::ast::Entry;
    let resource = FluentResource::try_new(lang.source().to_string()).unwrap_or_else(|(r, _)| r);
    resource
        .entries()
        .filter_map(|e| match e {
            Entry::Message(m) => Some(m.id.name.to_string()),
            _ => None,
        })
        .collect()
}

/// What a failure code means, in `lang` (English from [`crate::vocab::Code::description`]).
pub fn code_meaning(lang: Lang, code: crate::vocab::Code) -> String {
    match lang {
        Lang::En => code.description().to_string(),
        l => lookup(l, &format!("code-{}", code.as_str()))
            .unwrap_or_else(|| code.description().to_string()),
    }
}

/// A message in a language, with named arguments: `tr!(lang, "cells", n = 3)`.
#[macro_export]
macro_rules! tr {
    ($lang:expr, $id:expr) => {
        $crate::i18n::text($lang, $id, None)
    };
    ($lang:expr, $id:expr, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = $crate::i18n::Args::new();
        $(args.set(stringify!($name), $value);)+
        $crate::i18n::text($lang, $id, Some(&args))
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Code, Stage, Verdict};

    #[test]
    fn every_message_has_every_language() {
        let en = ids(Lang::En);
        for lang in &Lang::ALL[1..] {
            let other = ids(*lang);
            let missing: Vec<_> = en.iter().filter(|id| !other.contains(id)).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
            // Beyond English's ids, only the translations of data (codes, weak rules).
            let extra: Vec<_> = other
                .iter()
                .filter(|id| !en.contains(id))
                .filter(|id| !id.starts_with("code-") && !id.starts_with("weak-"))
                .collect();
            assert!(
                extra.is_empty(),
                "{} has ids English lacks: {extra:?}",
                lang.code()
            );
            for code in Code::ALL {
                let id = format!("code-{}", code.as_str());
                assert!(other.contains(&id), "{} lacks {id}", lang.code());
            }
            for stage in Stage::ALL {
                assert!(en.contains(&format!("stage-{}", stage.as_str())));
            }
        }
        for v in [
            Verdict::Ok,
            Verdict::Fail,
            Verdict::Error,
            Verdict::Interrupted,
        ] {
            assert!(ids(Lang::En).contains(&format!("verdict-{}", v.as_str())));
        }
    }

    #[test]
    fn plurals_follow_each_language() {
        assert_eq!(tr!(Lang::En, "cells", n = 1), "1 cell");
        assert_eq!(tr!(Lang::En, "cells", n = 16), "16 cells");
        // Japanese has one plural form.
        assert_eq!(tr!(Lang::Ja, "cells", n = 1), "1 セル");
        assert_eq!(
            tr!(Lang::Ja, "key-with-bits", family = "RSA", bits = 2048),
            "RSA（ビット数 2048）"
        );
        assert_eq!(tr!(Lang::Ja, "no-such-message"), "no-such-message");
    }

    #[test]
    fn a_locale_names_its_language_and_falls_back_to_english() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |v: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == v)
                    .map(|(_, s)| s.to_string())
            }
        };
        assert_eq!(Lang::from_locale(env(&[("LANG", "ja_JP.UTF-8")])), Lang::Ja);
        // LC_ALL wins over LANG; an empty one is unset.
        let both = env(&[("LC_ALL", "C.UTF-8"), ("LANG", "ja_JP.UTF-8")]);
        assert_eq!(Lang::from_locale(both), Lang::En);
        let empty = env(&[("LC_ALL", ""), ("LANG", "ja_JP.eucJP")]);
        assert_eq!(Lang::from_locale(empty), Lang::Ja);
        assert_eq!(Lang::from_locale(env(&[("LANG", "fr_FR.UTF-8")])), Lang::En);
        assert_eq!(Lang::from_locale(env(&[])), Lang::En);
        assert_eq!(Lang::parse("JA"), Some(Lang::Ja));
        assert_eq!(Lang::parse("de"), None);
    }
}
