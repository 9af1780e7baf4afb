//! Decoder for `Transfer-Encoding: chunked` bodies (RFC 9112 §7.1), as a push state machine
//! over byte slices so it can be fed from any buffer and fuzzed on its own.
//!
//! Strict where leniency is a smuggling or exhaustion vector:
//! - every line ends in CRLF (a bare LF is rejected);
//! - a chunk size is hex digits, at most 16 significant ones (leading zeros are fine), then
//!   optional whitespace, then either `;` and extensions or CRLF (`5 junk` is rejected);
//! - extensions are skipped, but may hold no control characters, and the bytes a body spends
//!   on them (with leading zeros and whitespace) are limited to [`MAX_OVERHEAD`] — an endless
//!   extension is answered long before it ends (Go's CVE-2023-39326, hyper's 16 KiB);
//! - trailer lines must be header fields (`name: value`; RFC 9112 §7.1.2), are discarded, and
//!   are limited to [`MAX_TRAILERS`] bytes.

use std::fmt;

/// A malformed chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkedError(&'static str);

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed chunked body: {}", self.0)
    }
}

impl std::error::Error for ChunkedError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size (`digits` significant ones so far).
    Size { value: u64, digits: u8 },
    /// Whitespace after the size: `;` or CR must follow.
    SizeWs { value: u64 },
    /// Skipping a chunk extension up to CR.
    Extension { value: u64 },
    /// Expecting LF after the size line's CR.
    SizeLf { value: u64 },
    /// Inside chunk data.
    Data { left: u64 },
    /// Expecting CR after chunk data.
    DataCr,
    /// Expecting LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field's name, up to `:`.
    TrailerName,
    /// Inside a trailer field's value, up to CR.
    TrailerValue,
    /// Expecting LF after a trailer line.
    TrailerLf,
    /// Expecting LF after the final empty line's CR.
    EndLf,
    /// The whole body has been read.
    Done,
    /// A framing error was found: every later call reports it again. (The state had moved
    /// on over bytes the failed call does not report as consumed, so going on from here
    /// would decode bytes in the wrong state.)
    Failed(&'static str),
}

/// Incremental chunked decoder.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    trailer_bytes: usize,
    overhead: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Most trailer bytes accepted per body (they are discarded anyway; LFs not counted).
pub const MAX_TRAILERS: usize = 16 * 1024;

/// Most bytes a body may spend on chunk extensions, leading zeros of sizes and whitespace
/// after sizes, all chunks together.
pub const MAX_OVERHEAD: usize = 16 * 1024;

/// A `tchar` of RFC 9110 §5.6.2 (what field names are made of).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A byte allowed in a field value or chunk extension: anything but controls (HTAB is fine).
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        ChunkedDecoder { state: State::Size { value: 0, digits: 0 }, trailer_bytes: 0, overhead: 0 }
    }

    /// Whether the terminating chunk and trailers have been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing from `input` and copies decoded data into `out`. Returns
    /// `(consumed, produced)`; stops when `out` is full, `input` is used up, or the body ends.
    ///
    /// # Errors
    /// On any framing violation or exceeded limit. The decoder then stays failed: every
    /// later call returns the same error (the input it was given is not reported consumed,
    /// but its state had moved on: it must never decode those bytes again).
    pub fn decode(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), ChunkedError> {
        if let State::Failed(why) = self.state {
            return Err(ChunkedError(why));
        }
        let r = self.decode_inner(input, out);
        if let Err(e) = r {
            self.state = State::Failed(e.0);
        }
        r
    }

    fn decode_inner(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), ChunkedError> {
        let (mut i, mut o) = (0, 0);
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Size { value, digits } => {
                    if let Some(d) = (b as char).to_digit(16) {
                        if value == 0 && d == 0 {
                            // A leading zero: allowed, but it is overhead.
                            self.count_overhead()?;
                            self.state = State::Size { value, digits: digits.max(1) };
                        } else if value >> 60 != 0 {
                            // A 17th significant digit.
                            return Err(ChunkedError("chunk size too large"));
                        } else {
                            let sig = if value == 0 { 1 } else { digits + 1 };
                            self.state =
                                State::Size { value: value * 16 + u64::from(d), digits: sig };
                        }
                    } else if digits == 0 {
                        return Err(ChunkedError("missing chunk size"));
                    } else {
                        self.after_size(b, value)?;
                    }
                }
                State::SizeWs { value } => self.after_size(b, value)?,
                State::Extension { value } => {
                    if b == b'\r' {
                        self.state = State::SizeLf { value };
                    } else if !is_field_byte(b) {
                        return Err(ChunkedError("control character in chunk extension"));
                    } else {
                        self.count_overhead()?;
                    }
                }
                State::SizeLf { value } => {
                    if b != b'\n' {
                        return Err(ChunkedError("expected LF after chunk size"));
                    }
                    self.state =
                        if value == 0 { State::TrailerStart } else { State::Data { left: value } };
                }
                State::Data { left } => {
                    if o == out.len() {
                        break;
                    }
                    let n = (left.min((input.len() - i) as u64) as usize).min(out.len() - o);
                    out[o..o + n].copy_from_slice(&input[i..i + n]);
                    o += n;
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 { State::DataCr } else { State::Data { left } };
                    continue;
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkedError("expected CRLF after chunk data"));
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkedError("expected CRLF after chunk data"));
                    }
                    self.state = State::Size { value: 0, digits: 0 };
                }
                State::TrailerStart => {
                    self.count_trailer()?;
                    self.state = if b == b'\r' {
                        State::EndLf
                    } else if is_tchar(b) {
                        State::TrailerName
                    } else {
                        return Err(ChunkedError("trailer line is not a header field"));
                    };
                }
                State::TrailerName => {
                    self.count_trailer()?;
                    if b == b':' {
                        self.state = State::TrailerValue;
                    } else if !is_tchar(b) {
                        return Err(ChunkedError("trailer line is not a header field"));
                    }
                }
                State::TrailerValue => {
                    self.count_trailer()?;
                    if b == b'\r' {
                        self.state = State::TrailerLf;
                    } else if !is_field_byte(b) {
                        return Err(ChunkedError("control character in trailer"));
                    }
                }
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(ChunkedError("expected LF after trailer"));
                    }
                    self.state = State::TrailerStart;
                }
                State::EndLf => {
                    if b != b'\n' {
                        return Err(ChunkedError("expected LF after last chunk"));
                    }
                    self.state = State::Done;
                    return Ok((i + 1, o));
                }
                State::Done => return Ok((i, o)),
                State::Failed(why) => return Err(ChunkedError(why)),
            }
            i += 1;
        }
        Ok((i, o))
    }

    /// The byte after a chunk size's digits (or after whitespace following them).
    fn after_size(&mut self, b: u8, value: u64) -> Result<(), ChunkedError> {
        match b {
            b'\r' => self.state = State::SizeLf { value },
            b';' => {
                self.count_overhead()?;
                self.state = State::Extension { value };
            }
            b' ' | b'\t' => {
                self.count_overhead()?;
                self.state = State::SizeWs { value };
            }
            _ => return Err(ChunkedError("invalid chunk size line")),
        }
        Ok(())
    }

    fn count_overhead(&mut self) -> Result<(), ChunkedError> {
        self.overhead += 1;
        if self.overhead > MAX_OVERHEAD {
            return Err(ChunkedError("chunk extensions too large"));
        }
        Ok(())
    }

    fn count_trailer(&mut self) -> Result<(), ChunkedError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > MAX_TRAILERS {
            return Err(ChunkedError("trailers too large"));
        }
        Ok(())
    }
}

/// Decodes a complete chunked body in one go (tests, fuzzing, small bodies). Returns the data
/// and how many input bytes the body occupied.
///
/// # Errors
/// Malformed framing, or input that ends before the body does.
pub fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize), ChunkedError> {
    let mut d = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut pos = 0;
    loop {
        let (c, p) = d.decode(&input[pos..], &mut buf)?;
        out.extend_from_slice(&buf[..p]);
        pos += c;
        if d.is_done() {
            return Ok((out, pos));
        }
        if c == 0 && p == 0 {
            return Err(ChunkedError("body ends early"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let body =
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (data, used) = decode_all(body).unwrap();
        assert_eq!(data, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(&body[used..], b"NEXT");
    }

    #[test]
    fn byte_at_a_time_equals_all_at_once() {
        let body = b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        for b in body.iter() {
            let mut o = [0u8; 1];
            let mut input: &[u8] = std::slice::from_ref(b);
            while !input.is_empty() {
                let (c, p) = d.decode(input, &mut o).unwrap();
                out.extend_from_slice(&o[..p]);
                input = &input[c..];
            }
        }
        assert!(d.is_done());
        assert_eq!(out, b"abc0123456789abcdef");
    }

    #[test]
    fn rejects_malformed_framing() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"3\nabc\r\n0\r\n\r\n",
            b"3\r\nabcX\r\n",
            b"11111111111111111\r\n",
            b"0\r\nbad\ntrailer\r\n\r\n",
            // Issue 16 item 2: a size followed by junk; an endless extension.
            b"5 junk\r\nhello\r\n0\r\n\r\n",
            b"5;a\x01\r\nhello\r\n0\r\n\r\n",
            // Issue 21 item 7: a trailer line that is not a header field.
            b"0\r\nGET /x HTTP/1.1\r\n\r\n",
            b"0\r\n : folded\r\n\r\n",
            b"0\r\nName : v\r\n\r\n",
            // Found writing the fuzz target's reference decoder: a bare LF where the last line or a trailer
            // starts (a lenient front end would end the body there; we saw a trailer).
            b"0\r\n\nX: y\r\n\r\n",
        ] {
            assert!(decode_all(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(decode_all(b"5\r\nab").is_err(), "truncated");
    }

    #[test]
    fn leading_zeros_whitespace_and_extensions_within_limits() {
        let (d, _) =
            decode_all(b"00000000000000000000005 ;a=b;c=\"d e\"\r\nhello\r\n0\r\n\r\n").unwrap();
        assert_eq!(d, b"hello");
        let (d, _) = decode_all(b"5\t;x\r\nhello\r\n000\r\nT: v\r\n\r\n").unwrap();
        assert_eq!(d, b"hello");
        // Sixteen significant digits is the most.
        assert!(decode_all(b"0ffffffffffffffff\r\n").is_err_and(|e| e.0 != "chunk size too large"));
        assert_eq!(decode_all(b"10000000000000000\r\n").unwrap_err().0, "chunk size too large");
    }

    // Differential test (issue 21): the state had moved past bytes a failed call does not
    // report consumed; fed them again it could "finish" the body on a `\r\n\r\n` inside
    // chunk data, and what followed was parsed as the next request.
    #[test]
    fn a_failed_decoder_stays_failed() {
        let body = b"7\r\nx\r\n\r\nGE\r\n0\r\nX: \x7f\r\n\r\n";
        let mut d = ChunkedDecoder::new();
        let mut out = [0u8; 64];
        let err = d.decode(body, &mut out).unwrap_err();
        assert_eq!(d.decode(&body[3..], &mut out), Err(err));
        assert_eq!(d.decode(b"\r\n\r\n", &mut out), Err(err));
        assert!(!d.is_done());
    }

    #[test]
    fn endless_extension_is_rejected_within_the_limit() {
        let mut d = ChunkedDecoder::new();
        let mut out = [0u8; 16];
        assert!(d.decode(b"1;", &mut out).is_ok());
        let junk = vec![b'x'; 1024];
        let mut fed = 0;
        let err = loop {
            match d.decode(&junk, &mut out) {
                Ok(_) => fed += junk.len(),
                Err(e) => break e,
            }
            assert!(fed <= MAX_OVERHEAD, "extension accepted past the limit");
        };
        assert_eq!(err.0, "chunk extensions too large");
    }
}
