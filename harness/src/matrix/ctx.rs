//! Where an error in a matrix file is: the file, its text, and a span turned into a line and
//! column, with the nearest known name for a misspelt one.

use std::ops::Range;

use toml::Spanned;

use super::{nearest, position, InputError};

pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl Ctx<'_> {
    pub(super) fn err(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> InputError {
        InputError {
            file: self.file.to_string(),
            position: Some(position(self.text, span.start)),
            message: message.into(),
            hint,
        }
    }

    pub(super) fn unknown<'k>(
        &self,
        what: &str,
        name: &Spanned<String>,
        known: impl IntoIterator<Item = &'k str> + Clone,
        list_cmd: &str,
    ) -> InputError {
        let all: Vec<&str> = known.clone().into_iter().collect();
        let listing = if all.len() <= 12 {
            format!("one of: {}", all.join(", "))
        } else {
            format!("see {list_cmd}")
        };
        let hint = match nearest(name.get_ref(), known) {
            Some(n) => format!("did you mean `{n}`? ({listing})"),
            None => listing,
        };
        self.err(
            name.span(),
            format!("unknown {what} `{}`", name.get_ref()),
            Some(hint),
        )
    }
}
