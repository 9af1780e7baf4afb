//! Helpers shared by grove-http's test binaries.
#![allow(dead_code)] // each test binary uses some of them

use grove::tls::rustls;

/// A self-signed certificate for `localhost` and a server config that presents it.
pub(crate) fn self_signed_localhost() -> (rustls::ServerConfig, rcgen::CertifiedKey<rcgen::KeyPair>)
{
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(grove::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
    (cfg, ck)
}

/// A client config that trusts exactly the certificate of `self_signed_localhost`.
pub(crate) fn client_config_trusting(
    ck: &rcgen::CertifiedKey<rcgen::KeyPair>,
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ck.cert.der().clone()).unwrap();
    rustls::ClientConfig::builder_with_provider(grove::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Runs a server with `config` and `app` on 127.0.0.1 for the duration of `f`, then shuts it
/// down and checks that it returns (bounded: liveness only).
pub(crate) fn with_server(
    config: grove_http::Config,
    app: impl Fn(grove_http::Request) -> grove_http::Response + 'static,
    f: impl FnOnce(std::net::SocketAddr),
) {
    grove::run(|| {
        let server = grove_http::Server::bind("127.0.0.1:0").unwrap().with_config(config);
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let srv = grove::spawn(move || server.serve(app));
        f(addr);
        stop.shutdown();
        srv.join_timeout(std::time::Duration::from_secs(20)).expect("server stops").unwrap();
    });
}
