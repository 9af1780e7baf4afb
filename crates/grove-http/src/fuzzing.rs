//! Entry points for the fuzz targets in `fuzz/` and for the tests that replay their corpus.
//!
//! Each function takes arbitrary bytes, runs one parser on them and panics if an invariant
//! breaks (a panic inside the parser itself is of course also a finding). They are public only
//! so that the out-of-workspace fuzz crate can reach crate-private parsers; they are not API.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use http::{header, HeaderMap, Method, StatusCode, Version};

use crate::body::Framing;
use crate::chunked::{decode_all, ChunkedDecoder};
use crate::client::{parse_response_head, response_framing};
use crate::server::{parse_head, request_framing, wants_keep_alive, Config, HeadError};
use crate::{Body, Response, Server};

/// Request head parser + body framing decision + keep-alive decision, as the server runs them.
///
/// Checks: the head length lies within the input and is where the head really ends (the same
/// bytes one short are incomplete; the exact prefix parses to the same head; bytes after it —
/// pipelined requests — do not change it), ambiguous framing (Content-Length with
/// Transfer-Encoding, conflicting lengths) is never accepted, accepted lengths respect the
/// limit, and an accepted head written back out parses to the same head.
pub fn request_head(data: &[u8]) {
    let config = Config { max_body_bytes: 1 << 20, ..Config::default() };
    let head = match parse_head(data, config.max_headers) {
        Ok(Some(h)) => h,
        Ok(None) => return,
        Err(HeadError::Reject(status, why)) => {
            assert!(status.is_client_error(), "{status} for {why}");
            return;
        }
        Err(HeadError::Closed) => panic!("the parser reported a closed connection"),
    };
    assert!(head.len > 0 && head.len <= data.len(), "head length {} of {}", head.len, data.len());
    assert!(
        matches!(parse_head(&data[..head.len - 1], config.max_headers), Ok(None)),
        "a head one byte short of its end is not incomplete"
    );
    let exact = match parse_head(&data[..head.len], config.max_headers) {
        Ok(Some(h)) => h,
        _ => panic!("the head alone does not parse"),
    };
    assert_same_head(&head, &exact);

    let framing = request_framing(&head, &config);
    let te = head.headers.contains_key(header::TRANSFER_ENCODING);
    let cls = content_lengths(&head.headers);
    match &framing {
        Ok(Framing::Chunked(_)) => {
            assert!(cls.is_empty(), "chunked and Content-Length both accepted");
            assert_eq!(head.version, Version::HTTP_11, "chunked accepted in HTTP/1.0");
        }
        Ok(Framing::Length(n)) => {
            assert!(!te, "Transfer-Encoding ignored in favour of Content-Length");
            assert!(*n > 0 && *n <= config.max_body_bytes, "length {n} accepted");
            assert!(cls.iter().all(|v| v == &Some(*n)), "conflicting lengths accepted: {cls:?}");
        }
        Ok(Framing::Empty) => {
            assert!(!te, "Transfer-Encoding ignored");
            assert!(cls.iter().all(|v| v == &Some(0)), "lengths {cls:?} read as no body");
        }
        Ok(other) => panic!("a request body framed as {other:?}"),
        Err((status, _)) => assert!(
            *status == StatusCode::BAD_REQUEST
                || *status == StatusCode::PAYLOAD_TOO_LARGE
                || *status == StatusCode::NOT_IMPLEMENTED,
            "framing rejected with {status}"
        ),
    }
    let _ = wants_keep_alive(head.version, &head.headers);

    // Written back out, the accepted head must parse to itself.
    let mut out = Vec::new();
    let version = if head.version == Version::HTTP_10 { "1.0" } else { "1.1" };
    out.extend_from_slice(format!("{} {} HTTP/{version}\r\n", head.method, head.uri).as_bytes());
    for (name, value) in &head.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let again = match parse_head(&out, config.max_headers) {
        Ok(Some(h)) => h,
        Ok(None) => panic!("re-serialised head incomplete: {:?}", String::from_utf8_lossy(&out)),
        Err(_) => panic!("re-serialised head rejected: {:?}", String::from_utf8_lossy(&out)),
    };
    assert_same_head(&head, &again);
}

/// Every Content-Length value, split at commas; `None` for one that is not a plain number.
fn content_lengths(headers: &HeaderMap) -> Vec<Option<u64>> {
    headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .flat_map(|v| {
            let s = v.to_str().unwrap_or("x");
            s.split(',').map(|p| p.trim().parse::<u64>().ok()).collect::<Vec<_>>()
        })
        .collect()
}

fn assert_same_head(a: &crate::server::Head, b: &crate::server::Head) {
    assert_eq!(a.method, b.method);
    assert_eq!(a.uri, b.uri);
    assert_eq!(a.version, b.version);
    assert_eq!(a.headers, b.headers);
}

/// Response head parser + body framing decision, as the client runs them (the first byte
/// picks the request method the response answers).
pub fn response_head(data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else { return };
    let method = if pick & 1 == 1 { Method::HEAD } else { Method::GET };
    let (status, version, headers, len) = match parse_response_head(data) {
        Ok(Some(h)) => h,
        Ok(None) | Err(_) => return,
    };
    assert!(len > 0 && len <= data.len(), "head length {len} of {}", data.len());
    assert!(
        matches!(parse_response_head(&data[..len - 1]), Ok(None)),
        "a head one byte short of its end is not incomplete"
    );
    match parse_response_head(&data[..len]) {
        Ok(Some((s, _, h, n))) => assert!(s == status && h == headers && n == len),
        _ => panic!("the head alone does not parse"),
    }
    let framing = response_framing(&method, status, version, &headers);
    if let Ok((Framing::UntilClose, definite)) = &framing {
        assert!(!definite, "read-until-close framing called definite");
    }
    let cls = content_lengths(&headers);
    if cls.len() > 1 && cls.windows(2).any(|w| w[0] != w[1]) {
        assert!(!matches!(framing, Ok((Framing::Length(_), _))), "conflicting lengths accepted");
    }
    match framing.map(|(f, _)| f) {
        Ok(Framing::Empty) | Err(_) => {}
        Ok(_) if method == Method::HEAD => panic!("a body expected after HEAD"),
        Ok(Framing::Length(n)) => assert!(n > 0),
        Ok(Framing::Chunked(_) | Framing::UntilClose) => {}
        Ok(Framing::Done | Framing::Failed) => panic!("framing starts Done or Failed"),
    }
}

/// The chunked decoder fed in pieces, against a plain reference decoder over the whole input.
///
/// The first two bytes choose the largest input piece and the output buffer size (1..=256 each)
/// so the fuzzer explores every way a body can be split across reads and short buffers.
pub fn chunked(data: &[u8]) {
    let [a, b, body @ ..] = data else { return };
    let piece = usize::from(*a) + 1;
    let out_len = usize::from(*b) + 1;
    let expected = reference_chunked(body);

    // Streaming, as the server does it: bytes arrive `piece` at a time into a buffer; the
    // decoder consumes from the buffer's front into an `out_len` output buffer.
    let mut dec = ChunkedDecoder::new();
    let mut arrived = 0;
    let mut pos = 0;
    let mut decoded = Vec::new();
    let mut out = vec![0u8; out_len];
    let streamed = loop {
        match dec.decode(&body[pos..arrived], &mut out) {
            Err(_) => break Outcome::Invalid,
            Ok((c, p)) => {
                assert!(c <= arrived - pos && p <= out.len(), "decode overran: {c} {p}");
                decoded.extend_from_slice(&out[..p]);
                pos += c;
                if dec.is_done() {
                    assert_eq!(dec.decode(&body[pos..], &mut out), Ok((0, 0)), "decode after end");
                    break Outcome::Done(decoded, pos);
                }
                if c == 0 && p == 0 {
                    if arrived == body.len() {
                        break Outcome::Incomplete;
                    }
                    arrived = (arrived + piece).min(body.len());
                }
            }
        }
    };
    assert_eq!(streamed, expected, "streaming decoder disagrees with the reference");
    // The one-shot helper agrees too.
    match (decode_all(body), &expected) {
        (Ok((d, n)), Outcome::Done(e, m)) => assert!(d == *e && n == *m),
        (Err(_), Outcome::Invalid | Outcome::Incomplete) => {}
        (got, want) => panic!("decode_all gave {got:?}, reference {want:?}"),
    }
}

/// What a chunked body decodes to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The data and how many input bytes the body took.
    Done(Vec<u8>, usize),
    /// Input ended inside the body.
    Incomplete,
    /// A framing error.
    Invalid,
}

/// RFC 9112 §7.1 decoding written as directly as possible, with the rules and limits the
/// server's decoder documents: at most 16 significant hex digits, CRLF only, whitespace after
/// the size only before `;` or CRLF, extensions skipped but free of controls, at most 16 KiB of
/// overhead (leading zeros, whitespace and extension bytes together), trailer lines that are
/// `name: value` fields, at most 16 KiB of trailer bytes (LFs not counted).
fn reference_chunked(input: &[u8]) -> Outcome {
    let mut i = 0;
    let mut data = Vec::new();
    let mut overhead = 0usize;
    let mut trailer = 0usize;
    // `next!()` yields the next byte, or returns Incomplete when the input ends.
    macro_rules! next {
        () => {{
            let Some(&b) = input.get(i) else { return Outcome::Incomplete };
            i += 1;
            b
        }};
    }
    macro_rules! overhead {
        () => {{
            overhead += 1;
            if overhead > 16 * 1024 {
                return Outcome::Invalid;
            }
        }};
    }
    let field_byte = |b: u8| b == b'\t' || (b >= 0x20 && b != 0x7f);
    loop {
        let mut size: u64 = 0;
        let mut any = false;
        let mut b = next!();
        while b.is_ascii_hexdigit() {
            let d = u64::from((b as char).to_digit(16).unwrap_or(0));
            if size == 0 && d == 0 {
                overhead!();
            } else if size.checked_mul(16).is_none() {
                return Outcome::Invalid;
            } else {
                size = size * 16 + d;
            }
            any = true;
            b = next!();
        }
        if !any {
            return Outcome::Invalid;
        }
        while b == b' ' || b == b'\t' {
            overhead!();
            b = next!();
        }
        if b == b';' {
            overhead!();
            loop {
                b = next!();
                if b == b'\r' {
                    break;
                }
                if !field_byte(b) {
                    return Outcome::Invalid;
                }
                overhead!();
            }
        }
        if b != b'\r' || next!() != b'\n' {
            return Outcome::Invalid;
        }
        if size == 0 {
            break;
        }
        for _ in 0..size {
            let byte = next!();
            data.push(byte);
        }
        if next!() != b'\r' || next!() != b'\n' {
            return Outcome::Invalid;
        }
    }
    // Trailer fields, then the empty line; every byte but the LFs counts against the limit.
    macro_rules! trailer {
        () => {{
            trailer += 1;
            if trailer > 16 * 1024 {
                return Outcome::Invalid;
            }
        }};
    }
    loop {
        let first = next!();
        trailer!();
        if first == b'\r' {
            return if next!() == b'\n' { Outcome::Done(data, i) } else { Outcome::Invalid };
        }
        if !crate::chunked::is_tchar(first) {
            return Outcome::Invalid;
        }
        loop {
            let b = next!();
            trailer!();
            if b == b':' {
                break;
            }
            if !crate::chunked::is_tchar(b) {
                return Outcome::Invalid;
            }
        }
        loop {
            let b = next!();
            trailer!();
            if b == b'\r' {
                break;
            }
            if !field_byte(b) {
                return Outcome::Invalid;
            }
        }
        if next!() != b'\n' {
            return Outcome::Invalid;
        }
    }
}

/// A whole connection against the fuzzing server (see [`serve`]), started on first use in a
/// thread of this process and left running for the life of the fuzzing process: `data` is
/// sent as-is over one TCP connection, then the client half-closes and reads until the server
/// closes. A panic in the server, a hang (no close within 20 s although the client is gone) or
/// an answer that is not HTTP is a finding.
pub fn server_conn(data: &[u8]) {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    let addr = *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            grove::run(move || {
                let server = Server::bind("127.0.0.1:0").unwrap();
                tx.send(server.local_addr().unwrap()).unwrap();
                serve(server).unwrap();
            });
        });
        rx.recv().unwrap()
    });
    check_connection(addr, data);
}

/// Sends `data` to the server at `addr` on one connection, half-closes and checks the server
/// closes with an HTTP answer (or a reset) within 20 s. Blocks the calling thread: call it from
/// a plain thread, not from a greenlet on the server's hub.
pub fn check_connection(addr: SocketAddr, data: &[u8]) {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // The server may answer and close before taking everything (a 400): then writes fail.
    let _ = conn.write_all(data);
    let _ = conn.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    match conn.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
        Err(e) => panic!("server did not close the connection: {e}"),
    }
    if !answer.is_empty() {
        assert!(
            answer.starts_with(b"HTTP/1.1 ") || answer.starts_with(b"HTTP/1.0 "),
            "not an HTTP answer: {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(200)])
        );
    }
}

/// Serves with the limits and handler the connection fuzzing uses: small head limit, short
/// timeouts; the handler reads the whole body (paths starting `/n`: leaves it unread), answers
/// with its length, streamed (chunked) for paths starting `/s`.
///
/// # Errors
/// As [`Server::serve`].
pub fn serve(server: Server) -> std::io::Result<()> {
    let config = Config {
        max_head_bytes: 8 * 1024,
        max_body_bytes: 1 << 20,
        head_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        body_timeout: Duration::from_secs(5),
        drain_limit: 4096,
        ..Config::default()
    };
    server.with_config(config).serve(|req| {
        let streamed = req.uri().path().starts_with("/s");
        let skip = req.uri().path().starts_with("/n");
        let mut body = Vec::new();
        let read = if skip { Ok(0) } else { req.into_body().read_to_end(&mut body) };
        let text = match read {
            Ok(_) => format!("{} bytes\n", body.len()),
            Err(e) => format!("body error: {e}\n"),
        };
        if streamed {
            Response::new(Body::stream(std::io::Cursor::new(text.into_bytes())))
        } else {
            Response::new(Body::from(text))
        }
    })
}
