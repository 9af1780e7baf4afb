//! A line-based chat server: every message goes to everyone in the room (a broadcast
//! channel), each connection is a reading greenlet plus a writing one, and timeouts keep
//! bad clients from holding resources: a client that does not give its name within
//! `NAME_TIMEOUT` is dropped, and so is one that stays silent for `IDLE_TIMEOUT`. The
//! example starts the server and four scripted clients on 127.0.0.1, prints what each
//! client saw, and exits.
//!
//! Mirrors: gevent's `StreamServer` chat examples (a greenlet per connection, a shared
//! broadcast, `socket.settimeout`) and eventlet's `chat_server.py`.
//!
//! Run: `cargo run -p grove --example chat`

use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use grove::net::{TcpListener, TcpStream};
use grove::sync::broadcast::{self, RecvError};

const NAME_TIMEOUT: Duration = Duration::from_millis(300);
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

/// One client's session on the server.
fn session(conn: TcpStream, room: broadcast::Sender<String>) -> io::Result<()> {
    let conn = Rc::new(conn);
    conn.set_read_timeout(Some(NAME_TIMEOUT))?;
    let mut lines = BufReader::new(&*conn).lines();
    (&*conn).write_all(b"your name?\n")?;
    let name = match lines.next() {
        Some(Ok(name)) => name,
        Some(Err(e)) if is_timeout(&e) => {
            return (&*conn).write_all(b"too slow: no name given, bye\n");
        }
        _ => return Ok(()),
    };
    conn.set_read_timeout(Some(IDLE_TIMEOUT))?;

    // The writer: everything said in the room, as it is said, until killed.
    let mut inbox = room.subscribe();
    let out = conn.clone();
    let writer = grove::spawn(move || loop {
        let line = match inbox.recv() {
            Ok(msg) => format!("{msg}\n"),
            // A slow reader loses messages instead of holding up the room.
            Err(RecvError::Lagged(n)) => format!("({n} messages missed)\n"),
            Err(_) => return,
        };
        if (&*out).write_all(line.as_bytes()).is_err() {
            return;
        }
    });
    let _ = room.send(format!("* {name} joined"));

    // The reader: this greenlet, until /quit, EOF, an error or the idle timeout.
    let farewell = loop {
        match lines.next() {
            Some(Ok(line)) if line == "/quit" => break format!("bye {name}\n"),
            Some(Ok(line)) => {
                let _ = room.send(format!("{name}: {line}"));
            }
            Some(Err(e)) if is_timeout(&e) => break "idle for too long, bye\n".to_string(),
            _ => break String::new(),
        }
    };
    let _ = writer.kill();
    let _ = room.send(format!("* {name} left"));
    (&*conn).write_all(farewell.as_bytes())
}

/// Accepts connections until killed: a greenlet per client.
fn serve(listener: TcpListener) {
    let (room, _) = broadcast::channel::<String>(64);
    loop {
        let Ok((conn, _)) = listener.accept() else { return };
        let room = room.clone();
        grove::spawn(move || session(conn, room));
    }
}

/// A scripted client: says its lines at the given times (ms from start), then /quit, and
/// returns everything it received.
fn client(
    addr: SocketAddr,
    name: Option<&'static str>,
    script: Vec<(u64, &'static str)>,
) -> String {
    let conn = Rc::new(TcpStream::connect(addr).expect("connect"));
    let input = conn.clone();
    let reader = grove::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(&*input).lines() {
            let Ok(line) = line else { break };
            seen.push_str("    ");
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    if let Some(name) = name {
        writeln!(&*conn, "{name}").expect("send name");
        let mut at = 0;
        for (when, line) in script {
            grove::sleep(Duration::from_millis(when - at));
            at = when;
            writeln!(&*conn, "{line}").expect("send");
        }
    }
    // A client without a name just waits for the server to give up on it.
    reader.join().expect("reader")
}

fn main() {
    grove::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        println!("chat server on {addr}");
        let server = grove::spawn(move || serve(listener));

        let clients = vec![
            (
                "alice",
                client_at(
                    addr,
                    "alice",
                    vec![(100, "hi all"), (250, "bob, you there?"), (450, "/quit")],
                ),
            ),
            ("bob", client_at(addr, "bob", vec![(300, "yes! hi alice"), (500, "/quit")])),
            ("carol", client_at(addr, "carol", vec![(600, "/quit")])),
            ("mallory", grove::spawn(move || client(addr, None, vec![]))),
        ];
        for (who, h) in clients {
            println!("{who} saw:\n{}", h.join().expect("client"));
        }
        server.kill().expect("stop the server");
    });
}

fn client_at(
    addr: SocketAddr,
    name: &'static str,
    script: Vec<(u64, &'static str)>,
) -> grove::JoinHandle<String> {
    grove::spawn(move || client(addr, Some(name), script))
}
