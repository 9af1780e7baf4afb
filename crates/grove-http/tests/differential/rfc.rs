//! An independent reading of RFC 9112 §7.1 (chunked transfer coding), written from the
//! grammar and sharing nothing with grove-http's decoder. When grove refuses a body that hyper
//! reads, and the generator's tags do not explain why, the refusal is still allowed if this
//! says the body breaks the grammar: the RFC lets a recipient refuse an invalid message.

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// field-vchar or SP / HTAB (RFC 9110 §5.5), obs-text included.
fn is_field_byte(b: u8) -> bool {
    b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        let ok = self.peek() == Some(c);
        self.i += usize::from(ok);
        ok
    }
    fn ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn crlf(&mut self) -> bool {
        self.eat(b'\r') && self.eat(b'\n')
    }
    fn token(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        self.i > start
    }
    fn quoted_string(&mut self) -> bool {
        if !self.eat(b'"') {
            return false;
        }
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return true;
                }
                Some(b'\\') => {
                    self.i += 1;
                    if !self
                        .peek()
                        .is_some_and(|c| c == b'\t' || c == b' ' || c > 0x20 && c != 0x7f)
                    {
                        return false;
                    }
                    self.i += 1;
                }
                Some(c) if c == b'\t' || c == b' ' || (c > 0x20 && c != 0x7f) => self.i += 1,
                _ => return false,
            }
        }
    }
    /// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
    fn chunk_ext(&mut self) -> bool {
        loop {
            let save = self.i;
            self.ows();
            if !self.eat(b';') {
                self.i = save;
                return true;
            }
            self.ows();
            if !self.token() {
                return false;
            }
            let save = self.i;
            self.ows();
            if self.eat(b'=') {
                self.ows();
                if !(self.token() || self.quoted_string()) {
                    return false;
                }
            } else {
                self.i = save;
            }
        }
    }
}

/// Whether `b` starts with a complete chunked body that follows the grammar exactly
/// (CRLF line ends, chunk-ext, trailer field lines).
pub(crate) fn chunked_is_valid(b: &[u8]) -> bool {
    let mut p = P { b, i: 0 };
    loop {
        let start = p.i;
        let mut size: u128 = 0;
        while let Some(d) = p.peek().and_then(|c| (c as char).to_digit(16)) {
            size = size.saturating_mul(16).saturating_add(u128::from(d));
            p.i += 1;
        }
        if p.i == start || !p.chunk_ext() || !p.crlf() {
            return false;
        }
        if size == 0 {
            break;
        }
        let Ok(n) = usize::try_from(size) else { return false };
        if p.b.len() - p.i < n {
            return false;
        }
        p.i += n;
        if !p.crlf() {
            return false;
        }
    }
    // trailer-section = *( field-line CRLF ), then CRLF.
    loop {
        if p.crlf() {
            return true;
        }
        if !p.token() || !p.eat(b':') {
            return false;
        }
        while p.peek().is_some_and(is_field_byte) {
            p.i += 1;
        }
        if !p.crlf() {
            return false;
        }
    }
}

fn ends_in_chunked(headers: &[httparse::Header<'_>]) -> bool {
    let codings: Vec<String> = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|h| {
            String::from_utf8_lossy(h.value)
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect();
    codings.last().is_some_and(|c| c == "chunked")
}

/// The chunked body of the final response in `b` (interim 1xx heads skipped), if its
/// Transfer-Encoding ends in chunked.
pub(crate) fn response_chunked_body(mut b: &[u8]) -> Option<&[u8]> {
    loop {
        let mut hs = [httparse::EMPTY_HEADER; 128];
        let mut r = httparse::Response::new(&mut hs);
        let httparse::Status::Complete(n) = r.parse(b).ok()? else { return None };
        b = &b[n..];
        if !(100..200).contains(&r.code?) || r.code == Some(101) {
            return ends_in_chunked(r.headers).then_some(b);
        }
    }
}

/// The chunked body of the request at the start of `b`, if its Transfer-Encoding ends in
/// chunked.
pub(crate) fn request_chunked_body(b: &[u8]) -> Option<&[u8]> {
    let mut hs = [httparse::EMPTY_HEADER; 128];
    let mut r = httparse::Request::new(&mut hs);
    let httparse::Status::Complete(n) = r.parse(b).ok()? else { return None };
    ends_in_chunked(r.headers).then_some(&b[n..])
}

#[test]
fn the_grammar_reads_as_written() {
    assert!(chunked_is_valid(b"5\r\nhello\r\n0\r\n\r\n"));
    assert!(chunked_is_valid(b"005 ; a = \"x y\";b\r\nhello\r\n000\r\nX-T: v \r\n\r\nrest"));
    for bad in [
        &b"5\nhello\r\n0\r\n\r\n"[..],
        b"5\r\nhello\r\n0\r\n\nX: y\r\n\r\n",
        b"5;a=\x01\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: a\x7fb\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX : v\r\n\r\n",
        b"5\r\nhell",
        b"\r\n",
    ] {
        assert!(!chunked_is_valid(bad), "{:?}", String::from_utf8_lossy(bad));
    }
}
