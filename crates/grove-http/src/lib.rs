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
