//! HTTP/1.1 for grove: a pywsgi-style server — handlers are plain blocking functions, one
//! greenlet per connection — and a keep-alive client.
//!
//! ```
//! use std::io::Read;
//! use grove_http::{Body, Response, Server};
//!
//! grove::run(|| {
//!     let server = Server::bind("127.0.0.1:0").unwrap();
//!     let url = format!("http://{}/hello", server.local_addr().unwrap());
//!     let stop = server.shutdown_handle();
//!     let srv = grove::spawn(move || {
//!         server.serve(|req| {
//!             let mut body = String::new();
//!             req.into_body().read_to_string(&mut body).unwrap();
//!             Response::new(Body::from(format!("got {} bytes", body.len())))
//!         })
//!     });
//!     let resp = grove_http::Client::new().post(&url, "12345").unwrap();
//!     assert_eq!(resp.body(), b"got 5 bytes");
//!     stop.shutdown();
//!     srv.join().unwrap().unwrap();
//! });
//! ```
//!
//! The server answers malformed or oversized requests with 400/413/431 and keeps serving
//! other connections; rejects ambiguous body framing (both Content-Length and
//! Transfer-Encoding, conflicting lengths) to defend against request smuggling; handles
//! keep-alive, pipelining, HTTP/1.0, `Expect: 100-continue`, HEAD; times out idle and slow
//! clients; shuts down gracefully; sets TCP_NODELAY and writes a fixed response in one write.
//!
//! # Differences from hyper
//!
//! `tests/differential.rs` sends seeded request sequences aimed at message framing to this
//! crate's server and to a hyper 1.x server, and seeded responses to this crate's client and
//! to hyper's, and fails on any difference this table does not list (the test holds it as
//! data, `tests/differential/allowed.rs`). grove-http may refuse what hyper accepts where the
//! RFC allows it, and accepts what hyper refuses only where the RFC asks for that. It never
//! accepts a message and reads it differently from hyper, except where hyper breaks the RFC
//! (`te:trailing-empty` in a response).
//!
//! | tag | stricter | difference | why it is allowed |
//! |---|---|---|---|
//! | `host:missing` | grove | HTTP/1.1 request without Host: 400 | RFC 9112 §3.2: MUST answer 400 |
//! | `host:dup` | grove | more than one Host line: 400 | RFC 9112 §3.2: MUST answer 400 |
//! | `host:invalid` | grove | Host not `uri-host [":" port]`: 400 | RFC 9112 §3.2: MUST answer 400 |
//! | `te+cl` | grove | Transfer-Encoding with Content-Length: 400 (hyper de-chunks, then closes) | RFC 9112 §6.1: a server MAY reject it |
//! | `te:unsupported` | grove | `gzip, chunked`, chunked twice: 501 (hyper de-chunks and passes the coded bytes on) | RFC 9112 §6.1: SHOULD answer 501; chunked MUST NOT be applied twice |
//! | `head:large` | grove | a head over [`Config::max_head_bytes`] (64 KiB): 431 (hyper: about 400 KiB) | RFC 6585 §5 |
//! | `cl:over-limit` | grove | Content-Length over [`Config::max_body_bytes`]: 413 | RFC 9110 §15.5.14 |
//! | `chunk-ext:ctl` | grove | control characters in a chunk extension fail the body | RFC 9112 §7.1.1: chunk-ext is tokens and quoted-strings |
//! | `chunk-ext:long` | grove | the 16 KiB extension budget also counts leading zeros, whitespace and `;` | RFC 9112 §7.1.1: a server ought to limit extensions |
//! | `trailer:bare-lf` | grove | a bare LF in the trailer section fails the body | RFC 9112 §7.1.2: trailer lines end in CRLF; §2.2 only permits a bare LF |
//! | `trailer:ctl` | grove | DEL in a trailer value fails the body | RFC 9110 §5.5: DEL is not a field-value byte |
//! | `chunked:invalid` | grove | any other chunked body that breaks the grammar (an independent reading of it in the test says so): grove fails it, hyper's lenient trailer parse may read it | RFC 9112 §7.1 |
//! | `cl:list` | hyper | `Content-Length: 5, 5`: grove reads 5 bytes, hyper answers 400 | RFC 9110 §8.6: MAY accept the repeated value |
//! | `te:trailing-empty` | hyper | `Transfer-Encoding: chunked,`: grove reads chunked; hyper answers 400 (server) or reads until close (client) | RFC 9110 §5.6.1: MUST ignore empty list elements |
//! | `resp:http10-te` | hyper | HTTP/1.0 response with Transfer-Encoding: grove's client reads until close, hyper fails it | RFC 9112 §6.1: treat the framing as faulty, close after |
//! | `head:fields` | either | the answer to HEAD: grove sends the framing field a GET would get (`content-length: 0`, `transfer-encoding: chunked`), hyper omits it for empty or unknown-length bodies | RFC 9110 §9.3.2: SHOULD send the GET's fields, MAY omit those known only while generating the content |
//! | `upgrade:hyper-stops` | hyper | after answering a request that asked for an `Upgrade` it did not perform, hyper may stop reading the connection (resetting it when more requests were pipelined, depending on how the bytes arrive); grove reads on | RFC 9110 §7.8: a server may ignore Upgrade and go on |
//! | `answer:until-close` | grove | a body of unknown length to an HTTP/1.0 keep-alive request: grove says `connection: close`, hyper says `keep-alive` though such a body can only end at the close | RFC 9112 §6.3 item 8: such a body ends at the close |
//! | `resp:head-large` | grove | the client fails a response head over 64 KiB (hyper: about 400 KiB) | RFC 9110 §5.4: field lines larger than it wishes to process |
//! | `reuse` | grove | the client does not reuse a connection hyper's would (only HTTP/1.1, definite framing, nothing left over) | RFC 9112 §9.6: a client MAY close at any time |
//!
//! A 2xx answer to CONNECT carries no Content-Length or Transfer-Encoding and no body (RFC
//! 9110 §9.3.6; the handler's body is dropped), and the connection closes after it, as after
//! a 101: this server does not relay tunnels. A response the handler marks
//! `Connection: close` closes the connection, and so does a body of unknown length sent to an
//! HTTP/1.0 client (it ends at the close).

#![deny(missing_docs)]

mod body;
pub mod chunked;
mod client;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
mod server;
mod stream;

pub use body::{Body, Incoming};
pub use client::{get, Client, ClientResponse};
pub use server::{peer_addr, Config, Request, Response, Server, ShutdownHandle};

pub use http;
