//! The seeded generators: request sequences for one connection (server side) and crafted
//! responses (client side), both aimed at message framing.
//!
//! Every choice that can make one implementation stricter than the other on purpose carries a
//! *tag*; the table in `allowed.rs` says which tags may explain which difference. Everything
//! else must come out the same on grove and on hyper.

use std::fmt::Write as _;

/// splitmix64: small, seedable, the same on every platform.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`%.
    pub(crate) fn pct(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// Picks from `(weight, value)` pairs.
    pub(crate) fn weighted<'a, T>(&mut self, xs: &'a [(usize, T)]) -> &'a T {
        let total: usize = xs.iter().map(|x| x.0).sum();
        let mut r = self.below(total);
        for (w, v) in xs {
            if r < *w {
                return v;
            }
            r -= w;
        }
        unreachable!()
    }
}

/// Bytes being built, with the offsets of structural boundaries (where a split write is most
/// likely to catch a parser between two states: between CR and LF, after a size, ...).
#[derive(Default)]
pub(crate) struct Buf {
    pub bytes: Vec<u8>,
    pub marks: Vec<usize>,
}

impl Buf {
    pub(crate) fn put(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }
    pub(crate) fn mark(&mut self) {
        self.marks.push(self.bytes.len());
    }
    pub(crate) fn part(&mut self, b: &[u8]) {
        self.put(b);
        self.mark();
    }
}

/// How lines end in a message head or chunk framing.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Eol {
    Crlf,
    /// Every line ends in a bare LF (RFC 9112 §2.2 lets a recipient accept it).
    Lf,
    /// One line (the `n`th) ends in a bare LF, the others in CRLF.
    OneLf(usize),
    /// One line ends in a bare CR (invalid everywhere).
    OneCr(usize),
}

impl Eol {
    fn end(self, buf: &mut Buf, line: usize) {
        match self {
            Eol::Crlf => {
                buf.part(b"\r");
                buf.part(b"\n");
            }
            Eol::Lf => buf.part(b"\n"),
            Eol::OneLf(n) if n == line => buf.part(b"\n"),
            Eol::OneCr(n) if n == line => buf.part(b"\r"),
            _ => {
                buf.part(b"\r");
                buf.part(b"\n");
            }
        }
    }
}

/// One generated request: its bytes and the tags of its deliberate oddities.
pub(crate) struct GenReq {
    pub bytes: Vec<u8>,
    pub tags: Vec<&'static str>,
}

/// One connection's worth of requests, ending with a well-formed probe request: whether the
/// probe reaches the handler shows whether (and how) the connection survived what came
/// before it.
pub(crate) struct ServerCase {
    /// How to run this case again.
    pub replay: String,
    pub reqs: Vec<GenReq>,
    pub bytes: Vec<u8>,
    /// Offsets after which a write ends (sorted, inside `1..bytes.len()`).
    pub cuts: Vec<usize>,
    pub split: &'static str,
}

pub(crate) const PROBE: &[u8] = b"GET /probe HTTP/1.1\r\nHost: probe.test\r\n\r\n";

/// Body bytes: letters, controls, CR/LF, obs-text and fragments of requests (a body that
/// looks like a request must stay a body).
fn body_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        match rng.below(12) {
            0 => v.extend_from_slice(b"\r\n"),
            1 => v.extend_from_slice(b"GET /smuggled HTTP/1.1\r\nHost: s\r\n\r\n"),
            2 => v.extend_from_slice(b"0\r\n\r\n"),
            3 => v.push(*rng.pick(&[0u8, 0x7f, 0xff, 0x80, b'\n', b'\r', b'\t'])),
            _ => v.push(b'a' + rng.below(26) as u8),
        }
    }
    v.truncate(n);
    v
}

fn hex(n: usize, upper: bool) -> String {
    if upper {
        format!("{n:X}")
    } else {
        format!("{n:x}")
    }
}

/// A chunked body: its bytes (with boundaries marked), and the tags of its oddities. `shift`
/// is set when the framing is broken on purpose (the following bytes no longer start where
/// the generator put the next request).
fn chunked_body(rng: &mut Rng, buf: &mut Buf, tags: &mut Vec<&'static str>) {
    let broken_line_end = if rng.pct(6) { Some(rng.below(3)) } else { None };
    let eol = |buf: &mut Buf, rng: &mut Rng, broken: bool| {
        if broken {
            match rng.below(3) {
                0 => buf.part(b"\n"),
                1 => buf.part(b"\r"),
                _ => buf.part(b"\r\r\n"),
            }
        } else {
            buf.part(b"\r");
            buf.part(b"\n");
        }
    };
    let chunks = rng.weighted(&[(10, 0usize), (40, 1), (25, 2), (15, 3), (10, 5)]);
    let mut overhead = 0usize;
    for i in 0..=*chunks {
        let last = i == *chunks;
        let size = if last {
            0
        } else {
            let (small, medium) = (rng.range(1, 40), rng.range(41, 600));
            *rng.weighted(&[(60, small), (20, medium), (3, 20_000)])
        };
        // The size line.
        let few = rng.range(1, 3);
        let zeros = *rng.weighted(&[(80, 0usize), (15, few), (5, 20)]);
        overhead += zeros;
        buf.put("0".repeat(zeros).as_bytes());
        if rng.pct(2) {
            // A size line nobody may accept, or a size nobody can send: after it the bytes
            // no longer frame as generated.
            tags.push("shift");
            let odd = *rng.pick(&[
                "+5",
                "-5",
                "0x5",
                " 5",
                "5 5",
                "ffffffffffffffff",
                "fffffffffffffffff",
                "10000000000000000",
                "",
                "g",
                "5\x00",
            ]);
            buf.part(odd.as_bytes());
        } else {
            buf.part(hex(size, rng.pct(30)).as_bytes());
        }
        if rng.pct(8) {
            let ws = rng.pick(&[" ", "\t", "  \t"]);
            overhead += ws.len();
            buf.part(ws.as_bytes());
        }
        if rng.pct(15) {
            let ext: Vec<u8> = match rng.below(10) {
                0 => b";a".to_vec(),
                1 => b"; a = b".to_vec(),
                2 => b";a=\"x y\";b".to_vec(),
                3 => {
                    tags.push("chunk-ext:ctl");
                    let c = *rng.pick(&[0u8, 1, 0x1b, 0x7f, 0x0b]);
                    vec![b';', b'a', b'=', c]
                }
                4 => {
                    tags.push("chunk-ext:long");
                    let n = *rng.pick(&[16_000usize, 16_382, 16_383, 16_384, 17_000]);
                    let mut e = vec![b';'];
                    e.resize(n, b'x');
                    e
                }
                5 => b";\xff\x80".to_vec(),
                6 => b";a=b\tc".to_vec(),
                _ => b";name=value".to_vec(),
            };
            overhead += ext.len();
            buf.part(&ext);
        }
        if overhead > 15_000 {
            tags.push("chunk-ext:long");
        }
        eol(buf, rng, broken_line_end == Some(0) && i == 0);
        if last {
            break;
        }
        let data = body_bytes(rng, size);
        if rng.pct(3) {
            // Data longer or shorter than its size line says.
            tags.push("shift");
            let d = if rng.pct(50) { size + 2 } else { size.saturating_sub(1) };
            buf.part(&body_bytes(rng, d));
        } else {
            buf.part(&data);
        }
        eol(buf, rng, broken_line_end == Some(1) && i == 0);
    }
    // Trailers.
    let trailers = *rng.weighted(&[(75, 0usize), (15, 1), (10, 3)]);
    for _ in 0..trailers {
        match rng.below(14) {
            0 => {
                tags.push("trailer:bare-lf");
                buf.part(b"X-T: a\nX-U: b\r\n");
            }
            1 => buf.part(b"no colon here\r\n"),
            2 => buf.part(b"X-T : v\r\n"),
            3 => buf.part(b"X-T: a\r\n folded\r\n"),
            4 => buf.part(b"X-T: \x00\r\n"),
            5 => {
                tags.push("trailer:ctl");
                buf.part(b"X-T: a\x7fb\r\n")
            }
            6 => buf.part(b"X-T: \xff\x80 obs\r\n"),
            7 => buf.part(b"GET /x HTTP/1.1\r\n"),
            8 => buf.part(b"Content-Length: 5\r\n"),
            9 => buf.part(b": empty-name\r\n"),
            _ => buf.part(b"X-Trailer: value\r\n"),
        }
    }
    if broken_line_end == Some(2) {
        tags.push("trailer:bare-lf");
        buf.part(b"\n");
    } else {
        buf.part(b"\r");
        buf.part(b"\n");
    }
}

/// One request (not the probe).
fn request(rng: &mut Rng, buf: &mut Buf) -> Vec<&'static str> {
    let mut tags = Vec::new();
    let method = *rng.weighted(&[
        (25, "GET"),
        (30, "POST"),
        (5, "PUT"),
        (5, "HEAD"),
        (3, "OPTIONS"),
        (3, "DELETE"),
        (3, "PATCH"),
        (4, "CONNECT"),
        (2, "FOO"),
        (2, "get"),
        (1, "M-SEARCH"),
        (1, "!#$%&'*+-.^_`|~"),
        (1, "GE(T"),
        (1, "G\x00T"),
    ]);
    let target: String = if method == "CONNECT" && rng.pct(80) {
        rng.pick(&["example.com:443", "[::1]:8443", "h:80", "h"]).to_string()
    } else {
        match rng.below(20) {
            0 => "http://example.com/abs?x=1".into(),
            1 => "http://h:8080".into(),
            2 => "example.com:443".into(),
            3 => "*".into(),
            4 => "/%7Euser/a%20b".into(),
            5 => "/a\x7fb".into(),
            6 => "/caf\u{e9}".into(),
            7 => "/#frag".into(),
            8 => "//double".into(),
            9 if rng.pct(10) => {
                // Long targets: both serve 40,000 bytes, both answer 414 to 70,000.
                format!("/{}", "t".repeat(*rng.pick(&[40_000, 70_000])))
            }
            _ => format!("/p{}?q={}", rng.below(100), rng.below(10)),
        }
    };
    let version =
        *rng.weighted(&[(85, "HTTP/1.1"), (13, "HTTP/1.0"), (1, "HTTP/1.2"), (1, "http/1.1")]);
    let http10 = version == "HTTP/1.0";

    let mut headers: Vec<Vec<u8>> = Vec::new();
    let mut h = |s: &[u8]| headers.push(s.to_vec());
    // Host.
    match rng.below(100) {
        0..=79 => h(format!(
            "Host: {}",
            rng.pick(&[
                "example.com",
                "h:8080",
                "[::1]:80",
                "EXAMPLE.com",
                "127.0.0.1",
                "",
                "a.b."
            ])
        )
        .as_bytes()),
        80..=85 => {
            if !http10 {
                tags.push("host:missing");
            }
        }
        86..=89 => {
            tags.push("host:dup");
            h(b"Host: a");
            h(b"Host: a");
        }
        _ => {
            tags.push("host:invalid");
            h(format!(
                "Host: {}",
                rng.pick(&["a b", "u@h", "h:99999", "h:abc", "[::1", "h:-1", "a/b", ":80"])
            )
            .as_bytes())
        }
    }
    // Body framing.
    #[derive(PartialEq)]
    enum Framing {
        None,
        Length(usize),
        Chunked,
        Neither,
    }
    let (small, medium) = (rng.range(1, 60), rng.range(61, 2000));
    let body_len = *rng.weighted(&[(40, 0usize), (40, small), (15, medium), (2, 70_000)]);
    let mut framing = Framing::None;
    let choice = rng.below(100);
    if choice < 30 {
        // No framing fields: no body.
    } else if choice < 70 {
        let n = body_len;
        let (lines, ok): (Vec<String>, bool) = match rng.below(22) {
            0 => (vec![format!("000{n}")], true),
            1 => (vec![format!(" {n} ")], true),
            2 => (vec![format!("{n}\t")], true),
            3 => (vec![format!("+{n}")], false),
            4 => (vec![format!("-{n}")], false),
            5 => (vec![n.to_string(), n.to_string()], true),
            6 => (vec![n.to_string(), format!("0{n}")], true),
            7 => (vec![n.to_string(), (n + 1).to_string()], false),
            8 => {
                tags.push("cl:list");
                (vec![format!("{n}, {n}")], true)
            }
            9 => (vec![format!("{n},{}", n + 1)], false),
            10 => (vec![String::new()], false),
            11 => (vec!["99999999999999999999999".into()], false),
            12 => {
                tags.push("cl:over-limit");
                (vec!["100000000".into()], false)
            }
            13 => (vec![format!("0x{n:x}")], false),
            14 => (vec![format!("{n}a")], false),
            15 => (vec![format!(", {n}")], false),
            16 => (vec![format!("{n}\u{e9}")], false),
            _ => (vec![n.to_string()], true),
        };
        let name =
            *rng.weighted(&[(85, "Content-Length"), (10, "content-length"), (5, "CONTENT-LENGTH")]);
        let sep = *rng.weighted(&[(90, ": "), (5, ":"), (5, ":\t")]);
        for l in &lines {
            h(format!("{name}{sep}{l}").as_bytes());
        }
        framing = if ok { Framing::Length(n) } else { Framing::Neither };
    } else if choice < 95 {
        let (lines, ok): (Vec<&str>, bool) = match rng.below(24) {
            0 => (vec!["Chunked"], true),
            1 => (vec!["CHUNKED"], true),
            2 => (vec![" chunked"], true),
            3 => (vec![", chunked"], true),
            4 => {
                tags.push("te:trailing-empty");
                (vec!["chunked,"], true)
            }
            5 => {
                tags.push("te:unsupported");
                (vec!["gzip, chunked"], true)
            }
            6 => {
                tags.push("te:unsupported");
                (vec!["chunked, chunked"], true)
            }
            7 => {
                tags.push("te:unsupported");
                (vec!["chunked", "chunked"], true)
            }
            8 => {
                tags.push("te:unsupported");
                (vec!["gzip", "chunked"], true)
            }
            9 => (vec!["chunked", "gzip"], false),
            10 => (vec!["identity"], false),
            11 => (vec!["gzip"], false),
            12 => (vec!["chunked;q=1"], false),
            13 => (vec![""], false),
            14 => (vec!["xchunked"], false),
            15 => (vec!["chunked", ""], true),
            16 => (vec![",,chunked , "], true),
            _ => (vec!["chunked"], true),
        };
        if lines.iter().any(|l| l.trim_end().ends_with(',')) || lines.last() == Some(&"") {
            tags.push("te:trailing-empty");
        }
        let name = *rng.weighted(&[
            (85, "Transfer-Encoding"),
            (10, "transfer-encoding"),
            (5, "TRANSFER-ENCODING"),
        ]);
        let sep = *rng.weighted(&[(90, ": "), (5, ":"), (5, ":\t")]);
        for l in &lines {
            h(format!("{name}{sep}{l}").as_bytes());
        }
        framing = if ok { Framing::Chunked } else { Framing::Neither };
        if http10 {
            framing = Framing::Neither;
        }
    } else {
        tags.push("te+cl");
        let te_first = rng.pct(50);
        if te_first {
            h(b"Transfer-Encoding: chunked");
        }
        h(format!("Content-Length: {body_len}").as_bytes());
        if !te_first {
            h(b"Transfer-Encoding: chunked");
        }
        framing = if http10 { Framing::Neither } else { Framing::Chunked };
    }
    // Connection, Expect, Upgrade, a probe field with edge bytes, filler.
    if rng.pct(30) {
        let c = *rng.pick(&[
            "close",
            "keep-alive",
            "Keep-Alive",
            "close, keep-alive",
            "keep-alive, close",
            "CLOSE",
            "foo, close",
            ",close,",
            "closed",
            "upgrade",
            "te",
        ]);
        h(format!("Connection: {c}").as_bytes());
        if rng.pct(20) {
            h(format!("Connection: {}", rng.pick(&["keep-alive", "close"])).as_bytes());
        }
    }
    if rng.pct(8) {
        h(format!("Expect: {}", rng.pick(&["100-continue", "100-Continue", "foo"])).as_bytes());
    }
    if rng.pct(5) {
        h(b"Upgrade: websocket");
        h(b"Connection: Upgrade");
    }
    if rng.pct(20) {
        let v = *rng.pick::<&[u8]>(&[
            b"plain",
            b"\x80\xff obs-text",
            b"a\tb",
            b"a\x7fb",
            b"a\x00b",
            b"trailing   ",
            b"",
            b"a\x01b",
        ]);
        if v.contains(&0x7f) {
            tags.push("field:del");
        }
        let mut line = b"X-Probe: ".to_vec();
        line.extend_from_slice(v);
        h(&line);
    }
    if rng.pct(12) {
        let kind = *rng.pick(&["stream", "empty", "204", "304", "close", "ok"]);
        h(format!("X-Respond: {kind}").as_bytes());
    }
    if rng.pct(4) {
        h(b"X-Folded: a\r\n b");
    }
    if rng.pct(3) {
        h(b"Bad Name: v");
    }
    if rng.pct(3) {
        h(b"X-Space : v");
    }
    if rng.pct(2) {
        h(b"X-Bare-CR: a\rb");
    }
    if rng.pct(1) {
        // A head over grove's 64 KiB limit (hyper's is about 400 KiB).
        tags.push("head:large");
        h(format!("X-Large: {}", "v".repeat(70_000)).as_bytes());
    }
    if rng.pct(1) {
        // More field lines than either server takes (100 each).
        for i in 0..101 {
            h(format!("X-Many-{i}: v").as_bytes());
        }
    }
    if rng.pct(10) {
        let k = rng.range(1, 8);
        for i in 0..k {
            h(format!("X-Filler-{i}: {}", "v".repeat(rng.below(40))).as_bytes());
        }
    }
    // Shuffle the field lines a little (framing fields are not always first).
    if headers.len() > 1 && rng.pct(50) {
        // Neighbours only, and never two lines of the same field: their order is their
        // meaning (`gzip` then `chunked` is not `chunked` then `gzip`).
        let a = rng.below(headers.len() - 1);
        let name = |l: &[u8]| l.split(|&c| c == b':').next().unwrap_or(b"").to_vec();
        if name(&headers[a]) != name(&headers[a + 1]) {
            headers.swap(a, a + 1);
        }
    }

    // The head.
    let nlines = headers.len() + 2;
    let eol = match rng.below(100) {
        0..=89 => Eol::Crlf,
        90..=94 => Eol::Lf,
        95..=97 => Eol::OneLf(rng.below(nlines)),
        _ => Eol::OneCr(rng.below(nlines)),
    };
    if rng.pct(4) {
        // Empty lines before a request line may be ignored (RFC 9112 §2.2).
        buf.part(rng.pick::<&[u8]>(&[b"\r\n", b"\n", b"\r\n\r\n", b"\r"]));
    }
    buf.part(method.as_bytes());
    buf.part(b" ");
    buf.part(target.as_bytes());
    buf.part(b" ");
    buf.put(version.as_bytes());
    eol.end(buf, 0);
    for (i, line) in headers.iter().enumerate() {
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            buf.part(&line[..=colon]);
            buf.put(&line[colon + 1..]);
        } else {
            buf.put(line);
        }
        eol.end(buf, i + 1);
    }
    eol.end(buf, nlines - 1);

    // The body.
    match framing {
        Framing::None | Framing::Neither => {
            if rng.pct(5) && body_len > 0 {
                // Bytes nobody announced: they are the next "request".
                tags.push("shift");
                buf.part(&body_bytes(rng, body_len.min(50)));
            }
        }
        Framing::Length(n) => {
            if rng.pct(5) {
                tags.push("shift");
                let d = if rng.pct(50) { n + 3 } else { n / 2 };
                buf.part(&body_bytes(rng, d));
            } else {
                buf.part(&body_bytes(rng, n));
            }
        }
        Framing::Chunked => chunked_body(rng, buf, &mut tags),
    }
    tags
}

/// The requests of one connection, then the probe, and how the bytes are split into writes.
pub(crate) fn server_case(seed: u64) -> ServerCase {
    let mut rng = Rng::new(seed);
    let n = *rng.weighted(&[(45, 1usize), (30, 2), (15, 3), (10, 5)]);
    let mut buf = Buf::default();
    let mut reqs = Vec::new();
    for _ in 0..n {
        let start = buf.bytes.len();
        let tags = request(&mut rng, &mut buf);
        reqs.push(GenReq { bytes: buf.bytes[start..].to_vec(), tags });
        buf.mark();
    }
    buf.put(PROBE);
    let len = buf.bytes.len();
    let (split, mut cuts): (&'static str, Vec<usize>) = match rng.below(100) {
        0..=39 => ("whole", vec![]),
        40..=64 => ("boundaries", buf.marks.clone()),
        65..=89 => {
            let k = rng.range(1, 8);
            ("random", (0..k).map(|_| rng.range(1, len - 1)).collect())
        }
        _ if len <= 3000 => ("byte-at-a-time", (1..len).collect()),
        _ => ("boundaries", buf.marks.clone()),
    };
    cuts.retain(|&c| c > 0 && c < len);
    cuts.sort_unstable();
    cuts.dedup();
    let replay = format!("seed {seed}: GROVE_DIFF_SEED={seed} GROVE_DIFF_CASES=1");
    ServerCase { replay, reqs, bytes: buf.bytes, cuts, split }
}

/// A crafted response for the client side: what the backend writes for the first request.
pub(crate) struct ClientCase {
    pub seed: u64,
    pub head_request: bool,
    pub bytes: Vec<u8>,
    /// Offsets after which one of the backend's writes ends.
    pub cuts: Vec<usize>,
    /// The backend closes its side right after writing (else it waits for a second request).
    pub close_after: bool,
    pub tags: Vec<&'static str>,
}

pub(crate) fn client_case(seed: u64) -> ClientCase {
    let mut rng = Rng::new(seed);
    let mut tags = Vec::new();
    let head_request = rng.pct(10);
    let mut buf = Buf::default();
    for _ in 0..*rng.weighted(&[(85, 0usize), (10, 1), (5, 2)]) {
        buf.put(rng.pick::<&[u8]>(&[
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n",
            b"HTTP/1.1 102 Processing\r\n\r\n",
            b"HTTP/1.1 100\r\nContent-Length: 0\r\n\r\n",
        ]));
    }
    let v10 = rng.pct(15);
    let status = *rng.weighted(&[
        (70, 200u16),
        (5, 201),
        (5, 204),
        (5, 304),
        (4, 101),
        (5, 404),
        (3, 500),
        (3, 205),
        (1, 299),
        (1, 599),
    ]);
    let mut head = String::new();
    let reason = *rng.weighted(&[(90, " X"), (5, ""), (5, " ")]);
    let _ = write!(head, "HTTP/1.{} {status}{reason}\r\n", if v10 { 0 } else { 1 });
    let bodyless = head_request || status == 204 || status == 304 || status == 101;
    let (small, medium) = (rng.range(1, 50), rng.range(51, 3000));
    let n = *rng.weighted(&[(20, 0usize), (60, small), (20, medium)]);
    let mut definite;
    let mut body = Vec::new();
    match rng.below(100) {
        0..=44 => {
            let (lines, ok): (Vec<String>, bool) = match rng.below(16) {
                0 => (vec![format!("00{n}")], true),
                1 => (vec![format!("+{n}")], false),
                2 => (vec![n.to_string(), n.to_string()], true),
                3 => (vec![n.to_string(), (n + 1).to_string()], false),
                4 => (vec![format!("{n}, {n}")], true),
                5 => (vec![String::new()], false),
                6 => (vec!["99999999999999999999999".into()], false),
                7 => (vec![format!("{n} x")], false),
                _ => (vec![n.to_string()], true),
            };
            for l in &lines {
                let _ = write!(head, "Content-Length: {l}\r\n");
            }
            definite = ok;
            let d = if rng.pct(5) {
                definite = false;
                n / 2
            } else {
                n
            };
            if !bodyless {
                body = body_bytes(&mut rng, d);
            }
        }
        45..=79 => {
            let (lines, ok): (Vec<&str>, bool) = match rng.below(14) {
                0 => (vec!["Chunked"], true),
                1 => (vec!["gzip, chunked"], true),
                2 => (vec!["chunked", "identity"], false),
                3 => (vec!["identity"], false),
                4 => (vec!["chunked,"], false),
                5 => (vec![", chunked"], true),
                6 => (vec!["chunked", "chunked"], true),
                7 => (vec!["chunked, "], true),
                _ => (vec!["chunked"], true),
            };
            for l in &lines {
                let _ = write!(head, "Transfer-Encoding: {l}\r\n");
            }
            if v10 {
                tags.push("resp:http10-te");
            }
            if lines.iter().any(|l| l.trim_end().ends_with(',')) {
                tags.push("te:trailing-empty");
            }
            definite = ok && !v10;
            if rng.pct(8) {
                let _ = write!(head, "Content-Length: {n}\r\n");
                definite = false;
            }
            if !bodyless {
                if ok {
                    let mut b = Buf::default();
                    chunked_body(&mut rng, &mut b, &mut tags);
                    body = b.bytes;
                    if tags.contains(&"shift") {
                        definite = false;
                    }
                } else {
                    body = body_bytes(&mut rng, n);
                }
            }
        }
        _ => {
            // Neither: the body runs until the backend closes.
            definite = bodyless;
            if !bodyless {
                body = body_bytes(&mut rng, n);
            }
        }
    }
    if rng.pct(15) {
        let _ = write!(
            head,
            "Connection: {}\r\n",
            rng.pick(&["close", "keep-alive", "Keep-Alive, close"])
        );
    }
    if rng.pct(1) {
        // A head over grove's 64 KiB limit (hyper reads about 400 KiB).
        tags.push("resp:head-large");
        let _ = write!(head, "X-Large: {}\r\n", "v".repeat(70_000));
    }
    if rng.pct(1) {
        let _ = write!(head, "X-Folded: a\r\n b\r\n");
    }
    if status == 101 {
        head.push_str("Upgrade: x\r\nConnection: upgrade\r\n");
    }
    head.push_str("\r\n");
    buf.part(head.as_bytes());
    buf.put(&body);
    if bodyless && rng.pct(10) {
        // A body where none may be: it is bytes after the response.
        tags.push("leftover");
        buf.put(b"hello");
    }
    if rng.pct(12) {
        tags.push("leftover");
        buf.put(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED");
    }
    // A response whose framing either client might read differently (any tag but
    // `leftover`) is closed after: waiting for a second request could otherwise wait for a
    // client that waits for the rest of the body.
    let doubtful = tags.iter().any(|&t| t != "leftover");
    let close_after = !definite || doubtful || rng.pct(30);
    // Split the backend's writes too, unless bytes follow the response: a client can only
    // tell those from an answer to its next request if they arrived before it asked.
    let len = buf.bytes.len();
    let mut cuts: Vec<usize> = if tags.contains(&"leftover") {
        vec![]
    } else {
        match rng.below(10) {
            0..=5 => vec![],
            6..=7 => buf.marks.clone(),
            8 => (0..rng.range(1, 6)).map(|_| rng.range(1, len.max(2) - 1)).collect(),
            _ if len <= 2000 => (1..len).collect(),
            _ => vec![],
        }
    };
    cuts.retain(|&c| c > 0 && c < len);
    cuts.sort_unstable();
    cuts.dedup();
    ClientCase { seed, head_request, bytes: buf.bytes, cuts, close_after, tags }
}

/// `bytes` as a Rust byte-string literal, to paste into a regression test.
pub(crate) fn literal(bytes: &[u8]) -> String {
    let mut s = String::from("b\"");
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    s
}
