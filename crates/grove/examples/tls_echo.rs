//! A TLS echo server and its clients on loopback, with a certificate made at start-up
//! (rcgen, self-signed for "localhost"; the clients trust exactly that certificate).
//! Handshakes have a timeout: a client that connects and never speaks TLS is dropped
//! instead of holding a greenlet forever.
//!
//! Mirrors: gevent's `StreamServer(..., ssl_context=...)` / `gevent.ssl.wrap_socket`, and
//! eventlet's `eventlet.wrap_ssl`.
//!
//! Run: `cargo run -p grove --example tls_echo`

use std::io::{self, BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::Duration;

use grove::net::{TcpListener, TcpStream};
use grove::tls::{self, rustls};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(500);

/// A fresh self-signed certificate: the server's config and a client config trusting it.
fn configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("rcgen");
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server certificate");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("trust the certificate");
    let client = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// Echoes lines back, upper-cased, until the client closes.
fn echo(config: Arc<rustls::ServerConfig>, tcp: TcpStream) -> io::Result<()> {
    let peer = tcp.peer_addr()?;
    let tls = match tls::accept(config, tcp, Some(HANDSHAKE_TIMEOUT)) {
        Ok(t) => t,
        Err(e) => {
            println!("server: handshake with {peer} failed: {e}");
            return Ok(());
        }
    };
    let mut tls = BufReader::new(tls);
    let mut line = String::new();
    while tls.read_line(&mut line)? > 0 {
        let reply = line.to_uppercase();
        tls.get_mut().write_all(reply.as_bytes())?;
        line.clear();
    }
    Ok(())
}

fn main() {
    let (server_config, client_config) = configs();
    grove::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        println!("TLS echo server on {addr}");
        let server = grove::spawn(move || loop {
            let Ok((tcp, _)) = listener.accept() else { return };
            let config = server_config.clone();
            grove::spawn(move || echo(config, tcp));
        });

        // Three TLS clients at once.
        let clients: Vec<_> = ["hello", "green", "threads"]
            .into_iter()
            .map(|word| {
                let config = client_config.clone();
                grove::spawn(move || -> io::Result<String> {
                    let tcp = TcpStream::connect(addr)?;
                    let tls = tls::connect(config, "localhost", tcp, Some(HANDSHAKE_TIMEOUT))?;
                    let mut tls = BufReader::new(tls);
                    writeln!(tls.get_mut(), "{word} over tls")?;
                    let mut reply = String::new();
                    tls.read_line(&mut reply)?;
                    Ok(reply.trim_end().to_string())
                })
            })
            .collect();
        for r in grove::joinall(clients) {
            println!("client got: {}", r.expect("client").expect("echo"));
        }

        // A client that connects and never starts the handshake: the server gives up.
        let silent = TcpStream::connect(addr).expect("connect");
        grove::sleep(HANDSHAKE_TIMEOUT + Duration::from_millis(200));
        drop(silent);
        server.kill().expect("stop the server");
    });
}
