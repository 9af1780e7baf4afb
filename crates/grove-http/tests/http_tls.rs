//! HTTPS: grove-http over rustls, checked with curl.

use std::io::Read;
use std::process::Command;
use std::sync::Arc;

use grove_http::{Body, Response, Server};

mod common;

#[test]
fn https_with_curl_keep_alive_and_upload() {
    grove::run(|| {
        let (cfg, ck) = common::self_signed_localhost();
        let dir = std::env::temp_dir().join(format!("grove-https-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, ck.cert.pem()).unwrap();

        let server = Server::bind("127.0.0.1:0").unwrap().with_tls(Arc::new(cfg));
        let port = server.local_addr().unwrap().port();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || {
            server.serve(|req| {
                let path = req.uri().path().to_string();
                let mut body = String::new();
                req.into_body().read_to_string(&mut body).unwrap();
                Response::new(Body::from(format!("{path} {body};")))
            })
        });
        // A plaintext client on the TLS port only loses its own connection.
        let mut plain = grove::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::io::Write::write_all(&mut plain, b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut junk = Vec::new();
        let _ = plain.read_to_end(&mut junk);

        let resolve = format!("localhost:{port}:127.0.0.1");
        let (ca2, r2) = (ca.clone(), resolve.clone());
        let out = grove::thread_pool::spawn_blocking(move || {
            Command::new("curl")
                .args(["-sS", "--cacert"])
                .arg(&ca2)
                .args(["--resolve", &r2])
                .arg(format!("https://localhost:{port}/a"))
                .arg(format!("https://localhost:{port}/b"))
                .args(["-H", "Transfer-Encoding: chunked", "--data-binary", "secret"])
                .output()
                .unwrap()
        })
        .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/a secret;/b secret;");
        stop.shutdown();
        srv.join().unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

/// Issue 16.10: the client speaks `https://` through rustls (checking the certificate against
/// the configured roots and the URL's host), reuses the TLS connection, and without a TLS
/// configuration says what is missing.
#[test]
fn the_client_speaks_https() {
    grove::run(|| {
        let (cfg, ck) = common::self_signed_localhost();
        let server = Server::bind("127.0.0.1:0").unwrap().with_tls(Arc::new(cfg));
        let port = server.local_addr().unwrap().port();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || {
            server.serve(|req| Response::new(Body::from(format!("secure {}", req.uri().path()))))
        });
        let client_cfg = common::client_config_trusting(&ck);
        let client = grove_http::Client::new().with_tls_config(Arc::new(client_cfg));
        for p in ["/a", "/b"] {
            let r = client.get(&format!("https://localhost:{port}{p}")).unwrap();
            assert_eq!(r.body(), format!("secure {p}").as_bytes());
        }
        assert_eq!(client.idle_connections(), 1, "the TLS connection was reused");
        // The certificate is for localhost, not for 127.0.0.1: refused.
        assert!(client.get(&format!("https://127.0.0.1:{port}/")).is_err());
        let err = grove_http::Client::new().get(&format!("https://localhost:{port}/")).unwrap_err();
        assert!(err.to_string().contains("with_tls_config"), "{err}");
        stop.shutdown();
        srv.join().unwrap().unwrap();
    });
}
