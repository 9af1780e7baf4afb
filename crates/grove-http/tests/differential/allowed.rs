//! The allowed differences between grove-http and hyper, as data. Each row names the
//! generator tag that marks the oddity, which side may be the stricter one, where the
//! strictness shows, and the RFC text that allows it. Any difference no row explains fails
//! the test. The same table is in the crate docs (`src/lib.rs`, "Differences from hyper").

/// Which implementation refuses what the other accepts.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Side {
    Grove,
    Hyper,
    /// Neither is stricter: the two make different choices the RFC both allows.
    Either,
}

/// Where the refusal shows.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Stage {
    /// The request head is answered with an error status; the handler never sees it.
    Head,
    /// The handler sees the request but reading its body fails.
    Body,
    /// The client: reading the response fails.
    Response,
    /// The client: the two read a response with different framings. Only for rows where
    /// hyper is the one out of line with the RFC.
    Framing,
    /// The server's answer: its fields differ.
    Answer,
}

pub(crate) struct Allowed {
    pub tag: &'static str,
    pub stricter: Side,
    pub stage: Stage,
    pub what: &'static str,
    pub rfc: &'static str,
}

pub(crate) const ALLOWED: &[Allowed] = &[
    Allowed {
        tag: "host:missing",
        stricter: Side::Grove,
        stage: Stage::Head,
        what: "HTTP/1.1 request without Host: grove 400, hyper serves it",
        rfc: "RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request that lacks Host",
    },
    Allowed {
        tag: "host:dup",
        stricter: Side::Grove,
        stage: Stage::Head,
        what: "more than one Host line: grove 400, hyper serves it",
        rfc: "RFC 9112 §3.2: MUST respond 400 to more than one Host field line",
    },
    Allowed {
        tag: "host:invalid",
        stricter: Side::Grove,
        stage: Stage::Head,
        what: "Host that is not uri-host [:port] (spaces, userinfo, bad port): grove 400",
        rfc: "RFC 9112 §3.2: MUST respond 400 to a Host field with an invalid value",
    },
    Allowed {
        tag: "te+cl",
        stricter: Side::Grove,
        stage: Stage::Head,
        what: "both Transfer-Encoding and Content-Length: grove 400, hyper uses chunked and \
               closes after",
        rfc: "RFC 9112 §6.1: a server MAY reject such a request (and MUST close after it)",
    },
    Allowed {
        tag: "te:unsupported",
        stricter: Side::Grove,
        stage: Stage::Head,
        what: "codings other than a lone chunked (gzip, chunked; chunked twice): grove 501, \
               hyper de-chunks and hands the coded bytes over",
        rfc: "RFC 9112 §6.1: a server SHOULD answer 501 to a transfer coding it does not \
              understand; chunked MUST NOT be applied more than once",
    },
    Allowed {
        tag: "cl:over-limit",
        stricter: Side::Grove,
        stage: Stage::Head,
        what: "Content-Length over Config::max_body_bytes (64 MiB): grove 413",
        rfc: "RFC 9110 §15.5.14: 413 when the content is larger than the server will process",
    },
    Allowed {
        tag: "head:large",
        stricter: Side::Grove,
        stage: Stage::Head,
        what: "a request head over Config::max_head_bytes (64 KiB): grove 431, hyper reads \
               heads up to about 400 KiB",
        rfc: "RFC 6585 §5: 431 when the header fields are too large",
    },
    Allowed {
        tag: "chunk-ext:ctl",
        stricter: Side::Grove,
        stage: Stage::Body,
        what: "control characters in a chunk extension: grove fails the body, hyper skips them",
        rfc: "RFC 9112 §7.1.1: chunk-ext is tokens and quoted-strings, which hold no controls",
    },
    Allowed {
        tag: "chunk-ext:long",
        stricter: Side::Grove,
        stage: Stage::Body,
        what: "chunk extensions near 16 KiB: grove also counts size-line leading zeros, \
               whitespace and the `;` against its 16 KiB, hyper only extension bytes",
        rfc: "RFC 9112 §7.1.1: a server ought to limit the total length of chunk extensions",
    },
    Allowed {
        tag: "trailer:bare-lf",
        stricter: Side::Grove,
        stage: Stage::Body,
        what: "a trailer section with a bare LF: grove fails the body, hyper's trailer parse \
               accepts it (or stops at it)",
        rfc: "RFC 9112 §7.1.2 trailer-section = *( field-line CRLF ); §2.2 only permits, never \
              requires, accepting a bare LF",
    },
    Allowed {
        tag: "trailer:ctl",
        stricter: Side::Grove,
        stage: Stage::Body,
        what: "DEL in a trailer value: grove fails the body",
        rfc: "RFC 9110 §5.5: field values are VCHAR, obs-text, SP and HTAB; DEL is none of them",
    },
    Allowed {
        tag: "chunked:invalid",
        stricter: Side::Grove,
        stage: Stage::Body,
        what: "any other chunked body that breaks the grammar (an independent reading of it \
               in tests/differential/rfc.rs says so), e.g. a bare LF where trailers start \
               after a chunk shorter than its size: grove fails it, hyper reads it",
        rfc: "RFC 9112 §7.1: chunked-body = *chunk last-chunk trailer-section CRLF",
    },
    Allowed {
        tag: "cl:list",
        stricter: Side::Hyper,
        stage: Stage::Head,
        what: "`Content-Length: 5, 5`: grove reads 5 bytes, hyper 400",
        rfc: "RFC 9110 §8.6: a recipient MAY reject such a list or replace it with the single \
              value",
    },
    Allowed {
        tag: "te:trailing-empty",
        stricter: Side::Hyper,
        stage: Stage::Head,
        what: "`Transfer-Encoding: chunked,` (an empty last list element): grove reads it as \
               chunked, hyper 400",
        rfc: "RFC 9110 §5.6.1: a recipient MUST accept and ignore empty list elements",
    },
    Allowed {
        tag: "resp:http10-te",
        stricter: Side::Hyper,
        stage: Stage::Response,
        what: "an HTTP/1.0 response with Transfer-Encoding: hyper fails it; grove's client \
               reads it until close and does not reuse the connection",
        rfc: "RFC 9112 §6.1: a client that receives an HTTP/1.0 message with Transfer-Encoding \
              MUST treat its framing as faulty and close the connection after processing it",
    },
    Allowed {
        tag: "te:trailing-empty",
        stricter: Side::Hyper,
        stage: Stage::Framing,
        what: "a response with `Transfer-Encoding: chunked,`: grove's client de-chunks it, \
               hyper's reads it until close (raw chunked bytes, or an error)",
        rfc: "RFC 9110 §5.6.1: a recipient MUST ignore empty list elements, so the last \
              coding is chunked (RFC 9112 §6.3 item 4)",
    },
    Allowed {
        tag: "head:fields",
        stricter: Side::Either,
        stage: Stage::Answer,
        what: "the answer to HEAD: grove sends the framing field a GET would get \
               (`content-length: 0`, `transfer-encoding: chunked`), hyper omits them when the \
               body is empty or of unknown length",
        rfc: "RFC 9110 §9.3.2: a server SHOULD send the fields a GET would get, but MAY omit \
              those determined only while generating the content; RFC 9112 §6.1, §6.2",
    },
    Allowed {
        tag: "upgrade:hyper-stops",
        stricter: Side::Hyper,
        stage: Stage::Head,
        what: "after answering a request that asked for an `Upgrade` it did not perform, hyper \
               may stop reading the connection (it resets it when more requests were already \
               pipelined; whether it does depends on how the bytes arrive), grove reads on",
        rfc: "RFC 9110 §7.8: a server MAY ignore Upgrade and go on with the connection; \
              RFC 9112 §9.6: a server may close a connection after any response",
    },
    Allowed {
        tag: "answer:until-close",
        stricter: Side::Grove,
        stage: Stage::Answer,
        what: "a body of unknown length to an HTTP/1.0 keep-alive request, sent until close: \
               grove says `connection: close`, hyper says `keep-alive` and closes anyway",
        rfc: "RFC 9112 §6.3 item 8: such a body ends when the server closes the connection; \
              §9.6: a server that will close says `close`",
    },
    Allowed {
        tag: "resp:head-large",
        stricter: Side::Grove,
        stage: Stage::Response,
        what: "a response head over 64 KiB: grove's client fails it, hyper's reads up to \
               about 400 KiB",
        rfc: "RFC 9110 §5.4: a client MAY discard or truncate received field lines larger \
              than it wishes to process",
    },
    Allowed {
        tag: "reuse",
        stricter: Side::Grove,
        stage: Stage::Response,
        what: "grove's client does not reuse a connection hyper's would (it reuses only \
               HTTP/1.1 responses with definite framing and nothing after them)",
        rfc: "RFC 9112 §9.6: a client MAY close the connection at any time",
    },
];

pub(crate) fn find(
    tags: &[&'static str],
    stricter: Side,
    stage: Stage,
) -> Option<&'static Allowed> {
    ALLOWED.iter().find(|a| a.stricter == stricter && a.stage == stage && tags.contains(&a.tag))
}
