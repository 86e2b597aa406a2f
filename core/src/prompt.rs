//! A secret typed at a client's prompt — only when that prompt appears. A client that is asked
//! something else (plink offered only password authentication while it holds an encrypted key)
//! must never receive the secret: typed ahead, a key's passphrase would have been sent to the
//! server as the password. The container helper (`cell_helper.pl`) follows the same rules.

/// Prompts that ask for a secret; one other than the expected one ends the typing (the client's
/// standard input is closed, so it gives up that method).
pub const SECRET_PROMPTS: &[&str] = &["password:", "passphrase"];

/// What to type, at which prompt, how many times (a jump host's inner client asks first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The secret, without its newline.
    pub text: String,
    /// The prompt it answers (matched case-insensitively), e.g. `Passphrase for key`.
    pub prompt: String,
    /// How many times the prompt is answered.
    pub times: usize,
}

/// What the typist does after reading more of the client's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet.
    Wait,
    /// Type these bytes (the secret and a newline).
    Type(Vec<u8>),
    /// Close the client's input: every answer is given, or another secret was asked for.
    Close,
}

/// Watches a client's output and types the answer at its prompt.
#[derive(Debug)]
pub struct Typist {
    answer: Answer,
    given: usize,
    seen: usize,
    closed: bool,
}

impl Typist {
    /// A typist for `answer`.
    pub fn new(answer: Answer) -> Self {
        Typist {
            answer,
            given: 0,
            seen: 0,
            closed: false,
        }
    }

    /// The next step, given all the client's output so far.
    pub fn step(&mut self, output: &[u8]) -> Step {
        if self.closed {
            return Step::Wait;
        }
        let text = String::from_utf8_lossy(&output[self.seen.min(output.len())..]).to_lowercase();
        let want = self.answer.prompt.to_lowercase();
        let found = |p: &str| text.find(p).map(|at| (at, p.len()));
        let expected = found(&want);
        let other = SECRET_PROMPTS
            .iter()
            .filter(|p| !want.contains(*p))
            .filter_map(|p| found(p))
            .min();
        match (expected, other) {
            (Some((at, _)), Some((o, _))) if o < at => self.close(),
            (Some((at, len)), _) => {
                self.seen += at + len;
                self.given += 1;
                if self.given >= self.answer.times {
                    self.closed = true;
                }
                Step::Type(format!("{}\n", self.answer.text).into_bytes())
            }
            (None, Some(_)) => self.close(),
            (None, None) => Step::Wait,
        }
    }

    /// Whether every answer has been given (the input is to be closed after the last one).
    pub fn done(&self) -> bool {
        self.closed
    }

    fn close(&mut self) -> Step {
        self.closed = true;
        Step::Close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typist(times: usize) -> Typist {
        Typist::new(Answer {
            text: "s3cret".into(),
            prompt: "Passphrase for key".into(),
            times,
        })
    }

    #[test]
    fn types_only_at_its_prompt() {
        let mut t = typist(1);
        assert_eq!(t.step(b"Using username \"root\".\r\n"), Step::Wait);
        let out = b"Using username \"root\".\r\nPassphrase for key \"k\": ";
        assert_eq!(t.step(out), Step::Type(b"s3cret\n".to_vec()));
        assert!(t.done());
    }

    #[test]
    fn another_secret_prompt_closes_the_input_instead() {
        let mut t = typist(1);
        assert_eq!(t.step(b"root@127.0.0.1's password: "), Step::Close);
        assert_eq!(t.step(b"Passphrase for key: "), Step::Wait);
    }

    #[test]
    fn answers_as_many_times_as_asked() {
        let mut t = typist(2);
        let first = b"Passphrase for key \"a\": ".to_vec();
        assert!(matches!(t.step(&first), Step::Type(_)));
        assert_eq!(t.step(&first), Step::Wait);
        let both = [first, b"\r\nPassphrase for key \"a\": ".to_vec()].concat();
        assert!(matches!(t.step(&both), Step::Type(_)));
        assert!(t.done());
    }
}
