//! Full duplex: one greenlet parked reading a stream while another writes it, for TCP, Unix
//! and TLS streams; readers killed or timed out mid-read; peers vanishing mid-read.

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use grove::net::{TcpListener, TcpStream, UnixStream};
use grove::tls::{self, Duplex};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Generous liveness bound: only a broken implementation takes this long.
const LIVE: Duration = Duration::from_secs(20);

/// What the suite needs from a stream type: `Read`/`Write` through `&`, a second handle, and a
/// way to make its peer vanish (drop without any goodbye).
trait Stream: Sized + 'static {
    fn handle(&self) -> Self;
}

impl Stream for TcpStream {
    fn handle(&self) -> Self {
        self.try_clone().unwrap()
    }
}

impl Stream for UnixStream {
    fn handle(&self) -> Self {
        self.try_clone().unwrap()
    }
}

impl<C: 'static> Stream for Duplex<C> {
    fn handle(&self) -> Self {
        self.clone()
    }
}

fn pattern(seed: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn read_n<S: Stream>(s: &S, n: usize) -> Vec<u8>
where
    for<'a> &'a S: Read,
{
    let mut v = vec![0; n];
    let mut r: &S = s;
    r.read_exact(&mut v).unwrap();
    v
}

/// Both sides write 2 MiB while reading 2 MiB, each direction in its own greenlet: with
/// socket buffers far smaller, it only completes if reads and writes interleave.
fn both_directions_at_once<A: Stream, B: Stream>(a: A, b: B)
where
    for<'x> &'x A: Read + Write,
    for<'x> &'x B: Read + Write,
{
    const N: usize = 2 << 20;
    fn side<S: Stream>(s: S, seed: u8) -> [grove::JoinHandle<Option<Vec<u8>>>; 2]
    where
        for<'x> &'x S: Read + Write,
    {
        let w = s.handle();
        let writer = grove::spawn(move || {
            let mut w: &S = &w;
            w.write_all(&pattern(seed, N)).unwrap();
            w.flush().unwrap();
            None
        });
        [writer, grove::spawn(move || Some(read_n(&s, N)))]
    }
    let [aw, ar] = side(a, 1);
    let [bw, br] = side(b, 2);
    assert!(aw.join().unwrap().is_none() && bw.join().unwrap().is_none());
    assert!(ar.join().unwrap().unwrap() == pattern(2, N), "a received corrupted data");
    assert!(br.join().unwrap().unwrap() == pattern(1, N), "b received corrupted data");
}

/// A reader killed, then a reader timed out, mid-read: the stream stays usable and nothing
/// is lost; meanwhile another greenlet writes.
fn cut_short_reads<A: Stream, B: Stream>(a: A, b: B)
where
    for<'x> &'x A: Read + Write,
    for<'x> &'x B: Read + Write,
{
    let r = a.handle();
    let reader = grove::spawn(move || {
        let mut buf = [0u8; 16];
        (&r).read(&mut buf)
    });
    grove::sleep(Duration::from_millis(10)); // parked in read
    (&a).write_all(b"ping").unwrap(); // the other direction, while the reader is parked
    (&a).flush().unwrap();
    assert_eq!(read_n(&b, 4), b"ping");
    reader.kill().unwrap();
    assert!(reader.join().is_err());
    (&b).write_all(b"pong").unwrap();
    (&b).flush().unwrap();
    assert_eq!(read_n(&a, 4), b"pong", "nothing lost to the killed reader");

    let mut buf = [0u8; 16];
    assert!(grove::timeout(Duration::from_millis(10), || (&a).read(&mut buf)).is_err());
    (&b).write_all(b"after").unwrap();
    (&b).flush().unwrap();
    assert_eq!(read_n(&a, 5), b"after", "nothing lost to the timed-out reader");
}

/// The peer vanishes while a greenlet is parked reading: the read ends with end of stream or
/// an error (never data, never a hang), and writes fail soon after.
fn peer_vanishes_mid_read<A: Stream, B: Stream>(a: A, b: B, eof_ok: bool)
where
    for<'x> &'x A: Read + Write,
{
    let r = a.handle();
    let reader = grove::spawn(move || {
        let mut buf = [0u8; 16];
        (&r).read(&mut buf)
    });
    grove::sleep(Duration::from_millis(10));
    drop(b);
    let got = grove::timeout(LIVE, || reader.join().unwrap()).expect("the read ended");
    match got {
        Ok(0) if eof_ok => {}
        // TLS: the TCP end without close_notify; a reset if the peer left data unread.
        Err(e) if !eof_ok => assert!(
            matches!(e.kind(), ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset),
            "{e}"
        ),
        other => panic!("reader saw {other:?} (eof_ok: {eof_ok})"),
    }
    let w = grove::timeout(LIVE, || loop {
        let r = (&a).write_all(&[0u8; 16 << 10]).and_then(|()| (&a).flush());
        if let Err(e) = r {
            break e;
        }
        grove::sleep(Duration::from_millis(1));
    })
    .expect("writes to a vanished peer fail");
    assert!(matches!(w.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset), "{w}");
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

#[test]
fn tcp_streams_are_full_duplex() {
    grove::run(|| {
        let (a, b) = tcp_pair();
        both_directions_at_once(a, b);
        let (a, b) = tcp_pair();
        cut_short_reads(a, b);
        let (a, b) = tcp_pair();
        peer_vanishes_mid_read(a, b, true);
    });
}

#[test]
fn unix_streams_are_full_duplex() {
    grove::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        both_directions_at_once(a, b);
        let (a, b) = UnixStream::pair().unwrap();
        cut_short_reads(a, b);
        let (a, b) = UnixStream::pair().unwrap();
        peer_vanishes_mid_read(a, b, true);
    });
}

struct Pki {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

fn pki() -> Pki {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Pki { server: Arc::new(server), client: Arc::new(client) }
}

/// A handshaken client/server pair over loopback TCP.
fn tls_pair(p: &Pki) -> (Duplex<rustls::ClientConnection>, Duplex<rustls::ServerConnection>) {
    let (c, s) = tcp_pair();
    let cfg = p.server.clone();
    let server = grove::spawn(move || tls::accept(cfg, s, Some(LIVE)).map(Duplex::new));
    let client = tls::connect(p.client.clone(), "localhost", c, Some(LIVE)).unwrap();
    (Duplex::new(client), server.join().unwrap().unwrap())
}

#[test]
fn tls_streams_are_full_duplex() {
    grove::run(|| {
        let p = pki();
        let (a, b) = tls_pair(&p);
        both_directions_at_once(a, b);
        let (a, b) = tls_pair(&p);
        cut_short_reads(a, b);
        // Server side cut short too (the other connection type).
        let (a, b) = tls_pair(&p);
        cut_short_reads(b, a);
        // The peer's TCP vanishes without close_notify: UnexpectedEof, not a clean end.
        let (a, b) = tls_pair(&p);
        peer_vanishes_mid_read(a, b, false);
        let (a, b) = tls_pair(&p);
        peer_vanishes_mid_read(b, a, false);
    });
}

#[test]
fn tls_split_halves_close_notify_and_timeouts() {
    grove::run(|| {
        let p = pki();
        let (a, b) = tls_pair(&p);
        let (mut ar, mut aw) = a.split();
        // The read half parks; the write half writes meanwhile.
        let reader = grove::spawn(move || {
            let mut v = Vec::new();
            ar.read_to_end(&mut v).map(|_| v)
        });
        grove::yield_now();
        aw.write_all(b"to server").unwrap();
        aw.flush().unwrap();
        assert_eq!(read_n(&b, 9), b"to server");
        (&b).write_all(b"to client").unwrap();
        // A clean close (close_notify + FIN) ends the client's read_to_end with Ok.
        b.shutdown_write().unwrap();
        let got = grove::timeout(LIVE, || reader.join().unwrap()).unwrap().unwrap();
        assert_eq!(got, b"to client");
        // Our side can still write after the peer's half-close; the peer reads it.
        aw.write_all(b"late").unwrap();
        aw.flush().unwrap();
        assert_eq!(read_n(&b, 4), b"late");

        // The socket's read timeout applies to Duplex reads, and the stream survives it.
        let (a, b) = tls_pair(&p);
        a.get_ref().set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let e = (&a).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        a.get_ref().set_read_timeout(None).unwrap();
        (&b).write_all(b"x").unwrap();
        (&b).flush().unwrap();
        assert_eq!(read_n(&a, 1), b"x");
        // A writer parked on a full socket (the peer reads nothing) is killed: the stream
        // stays usable for the reader and the peer receives whole records only.
        let w = a.clone();
        let writer = grove::spawn(move || {
            let chunk = vec![7u8; 64 << 10];
            loop {
                (&w).write_all(&chunk)?;
            }
            #[allow(unreachable_code)]
            std::io::Result::Ok(())
        });
        grove::sleep(Duration::from_millis(30));
        writer.kill().unwrap();
        assert!(writer.join().is_err());
        // What the killed writer had handed over still goes out, as whole records.
        let b2 = b.clone();
        let drained = grove::spawn(move || {
            let mut all = Vec::new();
            let mut buf = vec![0u8; 64 << 10];
            while !all.ends_with(b"END") {
                let n = (&b2).read(&mut buf).unwrap();
                assert!(n > 0, "end of stream before END");
                all.extend_from_slice(&buf[..n]);
            }
            all
        });
        (&a).write_all(b"END").unwrap();
        (&a).flush().unwrap();
        let all = grove::timeout(LIVE, || drained.join().unwrap()).unwrap();
        assert!(all[..all.len() - 3].iter().all(|&x| x == 7), "corrupted stream");
        (&b).write_all(b"still").unwrap();
        (&b).flush().unwrap();
        assert_eq!(read_n(&a, 5), b"still");
        a.with_conn(|c| assert!(!c.is_handshaking()));
    });
}
