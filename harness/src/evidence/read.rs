//! Reading a log as tickets deliver it: any size, streamed; UTF-8, UTF-16 with a byte-order mark
//! (PowerShell's `>`), Shift_JIS (Tera Term and WinSCP on Japanese Windows); CRLF, NUL bytes,
//! over-long lines, Markdown fences; syslog, journal and ISO timestamp prefixes with the
//! program and PID that group a server's lines by connection. Nothing read is ever executed.

use std::io::Read;

use encoding_rs::{Decoder, Encoding, SHIFT_JIS, UTF_16BE, UTF_16LE, UTF_8};

/// Lines longer than this are cut (the rest of the line is dropped, never buffered).
pub const MAX_LINE: usize = 64 * 1024;

/// How many bytes decide the encoding of a file without a byte-order mark.
const SNIFF: usize = 64 * 1024;

/// One line of a log, decoded, without its line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    /// 1-based line number in the file.
    pub no: usize,
    /// The text (NUL and other control characters but tab replaced by `�`).
    pub text: String,
}

/// The lines of a byte stream, decoded as the stream's encoding says.
pub struct Lines<R: Read> {
    input: R,
    decoder: Option<Decoder>,
    pending: Vec<u8>,
    /// Decoded text not yet returned starts at `at` (the consumed part is dropped in bulk, not
    /// line by line).
    text: String,
    at: usize,
    no: usize,
    done: bool,
    /// The encoding the stream was read in.
    pub encoding: &'static Encoding,
    /// Whether its first bytes look like binary data rather than text ([`looks_binary`]).
    pub binary: bool,
}

impl<R: Read> Lines<R> {
    /// Reads the first bytes of `input` to choose its encoding.
    pub fn new(mut input: R) -> std::io::Result<Self> {
        let mut head = vec![0u8; SNIFF];
        let mut n = 0;
        while n < head.len() {
            match input.read(&mut head[n..])? {
                0 => break,
                k => n += k,
            }
        }
        head.truncate(n);
        let encoding = sniff(&head);
        let binary = looks_binary(&head, encoding);
        Ok(Lines {
            input,
            decoder: Some(encoding.new_decoder()),
            pending: head,
            text: String::new(),
            at: 0,
            no: 0,
            done: false,
            encoding,
            binary,
        })
    }

    /// Decodes the pending bytes into `text`; `last` at the end of the input.
    fn decode(&mut self, last: bool) {
        let Some(decoder) = self.decoder.as_mut() else {
            return;
        };
        let mut out = String::with_capacity(self.pending.len() + 16);
        let max = decoder
            .max_utf8_buffer_length(self.pending.len())
            .unwrap_or(self.pending.len() * 3 + 16);
        out.reserve(max);
        let (_, read, _) = decoder.decode_to_string(&self.pending, &mut out, last);
        self.pending.drain(..read);
        self.text.drain(..self.at);
        self.at = 0;
        self.text.push_str(&out);
        if last {
            self.decoder = None;
        }
    }

    /// Reads more input; false at its end.
    fn fill(&mut self) -> std::io::Result<bool> {
        let mut buf = [0u8; 64 * 1024];
        let n = self.input.read(&mut buf)?;
        self.pending.extend_from_slice(&buf[..n]);
        self.decode(n == 0);
        Ok(n > 0)
    }
}

impl<R: Read> Iterator for Lines<R> {
    type Item = std::io::Result<RawLine>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.no == 0 && self.text.is_empty() && !self.pending.is_empty() {
            self.decode(false);
        }
        loop {
            if let Some(end) = self.text[self.at..].find('\n') {
                let (from, to) = (self.at, self.at + end);
                self.at = to + 1;
                self.no += 1;
                return Some(Ok(RawLine {
                    no: self.no,
                    text: clean(&self.text[from..to]),
                }));
            }
            if self.text.len() - self.at > MAX_LINE {
                // An over-long line: keep its start, skip to its end.
                let keep = cut(&self.text[self.at..], MAX_LINE).to_string();
                self.text.clear();
                self.at = 0;
                if let Err(e) = self.skip_line() {
                    return Some(Err(e));
                }
                return Some(Ok(self.line(&keep)));
            }
            if self.done {
                if self.at >= self.text.len() {
                    return None;
                }
                let line = self.text[self.at..].to_string();
                self.text.clear();
                self.at = 0;
                return Some(Ok(self.line(&line)));
            }
            match self.fill() {
                Ok(more) => self.done = !more,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<R: Read> Lines<R> {
    fn line(&mut self, raw: &str) -> RawLine {
        self.no += 1;
        RawLine {
            no: self.no,
            text: clean(raw),
        }
    }

    /// Drops input up to and including the next line end.
    fn skip_line(&mut self) -> std::io::Result<()> {
        loop {
            if let Some(end) = self.text[self.at..].find('\n') {
                self.at += end + 1;
                return Ok(());
            }
            self.text.clear();
            self.at = 0;
            if self.done || !self.fill()? {
                self.done = true;
                return Ok(());
            }
        }
    }
}

/// A line without its line end, control characters but tab replaced by `�`.
fn clean(raw: &str) -> String {
    let raw = raw.trim_end_matches(['\n', '\r']);
    let control = |c: char| c.is_control() && c != '\t';
    // Control characters are C0 bytes, DEL, or C1 (U+0080–U+009F, UTF-8 lead byte 0xC2).
    let maybe = raw
        .bytes()
        .any(|b| (b < 0x20 && b != b'\t') || b == 0x7f || b == 0xc2);
    match maybe && raw.contains(control) {
        false => raw.to_string(),
        true => raw
            .chars()
            .map(|c| if control(c) { '\u{FFFD}' } else { c })
            .collect(),
    }
}

/// The longest prefix of `s` of at most `max` bytes ending on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The encoding of a stream from its first bytes: a byte-order mark; UTF-16 without one when
/// every other byte is NUL (ASCII text); else UTF-8 unless the bytes are not UTF-8 and read as
/// Shift_JIS without error.
fn sniff(head: &[u8]) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(head) {
        return enc;
    }
    let pairs = head.len() / 2;
    if pairs >= 8 {
        let odd = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
        let even = head.iter().step_by(2).filter(|&&b| b == 0).count();
        if odd * 10 >= pairs * 9 {
            return UTF_16LE;
        }
        if even * 10 >= pairs * 9 {
            return UTF_16BE;
        }
    }
    // A multi-byte character cut at the end of the sample is still UTF-8.
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    if valid {
        return UTF_8;
    }
    // The sample may end inside a two-byte character.
    let clean = |bytes: &[u8]| !SHIFT_JIS.decode_without_bom_handling(bytes).1;
    match clean(head) || clean(&head[..head.len().saturating_sub(1)]) {
        true => SHIFT_JIS,
        false => UTF_8,
    }
}

/// Whether a file's first bytes look like binary data (an image, an archive, an executable)
/// rather than a log: NUL bytes outside UTF-16, or mostly non-text bytes.
pub fn looks_binary(head: &[u8], encoding: &'static Encoding) -> bool {
    if encoding == UTF_16LE || encoding == UTF_16BE || head.is_empty() {
        return false;
    }
    let odd = head
        .iter()
        .filter(|&&b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x1b)))
        .count();
    odd * 20 > head.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<String> {
        Lines::new(bytes)
            .unwrap()
            .map(|l| l.unwrap().text)
            .collect()
    }

    #[test]
    fn encodings_line_ends_and_long_lines() {
        assert_eq!(lines(b"a\r\nb\n\nc"), ["a", "b", "", "c"]);
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "debug1: x\r\nok\r\n"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(lines(&utf16), ["debug1: x", "ok"]);
        let (sjis, _, _) = SHIFT_JIS.encode("接続が拒否されました\r\nPermission denied\r\n");
        assert_eq!(lines(&sjis), ["接続が拒否されました", "Permission denied"]);
        let long = format!("{}\nnext\n", "x".repeat(MAX_LINE * 3));
        let got = lines(long.as_bytes());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], "next");
        assert_eq!(lines(b"a\0b\xff\n"), ["a\u{FFFD}b\u{FFFD}"]);
    }
}
