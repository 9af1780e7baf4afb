//! Helpers shared by grove-http's test binaries.

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
