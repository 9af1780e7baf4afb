//! TLS with rustls over grove sockets, against itself and against the openssl command line.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use grove::net::{TcpListener, TcpStream};
use grove::tls;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

struct Pki {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    cert_pem: String,
    key_pem: String,
}

/// A self-signed certificate for "localhost", made fresh for the test.
fn pki() -> Pki {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_der: CertificateDer<'static> = ck.cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Pki {
        server: Arc::new(server),
        client: Arc::new(client),
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
    }
}

/// A TLS line-echo server; returns its address and a handle to stop it.
fn echo_server(config: Arc<rustls::ServerConfig>) -> (std::net::SocketAddr, grove::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = grove::spawn(move || loop {
        let Ok((tcp, _)) = l.accept() else { continue };
        let config = config.clone();
        grove::spawn(move || {
            let Ok(mut s) = tls::accept(config, tcp, Some(Duration::from_secs(5))) else { return };
            let mut line = String::new();
            if BufReader::new(&mut s).read_line(&mut line).is_ok() {
                let _ = s.write_all(line.to_uppercase().as_bytes());
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        });
    });
    (addr, h)
}

#[test]
fn grove_client_and_server_with_50_concurrent_handshakes() {
    grove::run(|| {
        let p = pki();
        let (addr, server) = echo_server(p.server.clone());
        let clients: Vec<_> = (0..50)
            .map(|i| {
                let cfg = p.client.clone();
                grove::spawn(move || {
                    let tcp = TcpStream::connect(addr).unwrap();
                    let mut s =
                        tls::connect(cfg, "localhost", tcp, Some(Duration::from_secs(5))).unwrap();
                    s.write_all(format!("hello {i}\n").as_bytes()).unwrap();
                    let mut back = String::new();
                    s.read_to_string(&mut back).unwrap();
                    assert_eq!(back, format!("HELLO {i}\n"));
                })
            })
            .collect();
        for r in grove::joinall(clients) {
            r.unwrap();
        }
        server.kill().unwrap();
    });
}

#[test]
fn grove_server_with_openssl_s_client() {
    grove::run(|| {
        let p = pki();
        let dir = std::env::temp_dir().join(format!("grove-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &p.cert_pem).unwrap();
        let (addr, server) = echo_server(p.server.clone());
        let (ca2, target) = (ca.clone(), addr.to_string());
        let out = grove::thread_pool::spawn_blocking(move || {
            let mut child = Command::new("openssl")
                .args(["s_client", "-connect", &target, "-servername", "localhost", "-CAfile"])
                .arg(&ca2)
                .args(["-verify_return_error", "-quiet"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(b"from openssl\n").unwrap();
            child.wait_with_output().unwrap()
        })
        .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "FROM OPENSSL\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        server.kill().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

#[test]
fn grove_client_with_openssl_s_server() {
    grove::run(|| {
        let p = pki();
        let dir = std::env::temp_dir().join(format!("grove-tls-s-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cert.pem"), &p.cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &p.key_pem).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &port.to_string(),
                "-cert",
                "cert.pem",
                "-key",
                "key.pem",
                "-www",
            ])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut page = String::new();
        for _ in 0..100 {
            let Ok(tcp) = TcpStream::connect(("127.0.0.1", port)) else {
                grove::sleep(Duration::from_millis(50));
                continue;
            };
            let mut s =
                tls::connect(p.client.clone(), "localhost", tcp, Some(Duration::from_secs(5)))
                    .unwrap();
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            let _ = s.read_to_string(&mut page);
            break;
        }
        let _ = child.kill();
        let _ = child.wait();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(page.starts_with("HTTP/1.0 200 ok"), "{page:?}");
    });
}

#[test]
fn untrusted_certificates_and_vanishing_peers_fail_cleanly() {
    grove::run(|| {
        let p = pki();
        let (addr, server) = echo_server(p.server.clone());
        // A client that trusts nothing: the handshake fails with an error, no panic, no hang.
        let empty = rustls::ClientConfig::builder_with_provider(tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).unwrap();
        let e = tls::connect(Arc::new(empty), "localhost", tcp, Some(Duration::from_secs(5)))
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        // Peers that connect and vanish, or send garbage, mid-handshake.
        for garbage in [&b""[..], b"\x16\x03\x01\x00\x05hello", b"GET / HTTP/1.1\r\n\r\n"] {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(garbage).unwrap();
            drop(c);
        }
        // A peer stalling in the handshake is timed out by the accept timeout.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a2 = l.local_addr().unwrap();
        let _staller = TcpStream::connect(a2).unwrap();
        let (tcp, _) = l.accept().unwrap();
        let e = tls::accept(p.server.clone(), tcp, Some(Duration::from_millis(50))).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        // The echo server still serves.
        let tcp = TcpStream::connect(addr).unwrap();
        let mut s = tls::connect(p.client.clone(), "localhost", tcp, None).unwrap();
        s.write_all(b"still\n").unwrap();
        let mut back = String::new();
        s.read_to_string(&mut back).unwrap();
        assert_eq!(back, "STILL\n");
        server.kill().unwrap();
    });
}
