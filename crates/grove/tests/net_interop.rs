//! An unmodified third-party blocking crate on grove sockets: tungstenite (WebSocket) echo
//! with 100 client greenlets and a greenlet per server connection, all on one hub.

use std::time::{Duration, Instant};

use grove::net::{TcpListener, TcpStream};
use tungstenite::Message;

#[test]
fn tungstenite_websocket_echo_with_100_greenlets() {
    grove::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = grove::spawn(move || loop {
            let Ok((s, _)) = l.accept() else { continue };
            grove::spawn(move || {
                let Ok(mut ws) = tungstenite::accept(s) else { return };
                while let Ok(msg) = ws.read() {
                    match msg {
                        Message::Text(_) | Message::Binary(_) => {
                            // Slow echo: every connection waits, all concurrently.
                            grove::sleep(Duration::from_millis(20));
                            if ws.send(msg).is_err() {
                                break;
                            }
                        }
                        Message::Close(_) => break,
                        _ => {}
                    }
                }
            });
        });
        let start = Instant::now();
        let clients: Vec<_> = (0..100)
            .map(|i| {
                grove::spawn(move || {
                    let s = TcpStream::connect(addr).unwrap();
                    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/chat"), s).unwrap();
                    for round in 0..5 {
                        let text = format!("client {i} message {round}");
                        ws.send(Message::text(text.clone())).unwrap();
                        assert_eq!(ws.read().unwrap(), Message::text(text));
                    }
                    ws.close(None).unwrap();
                    5
                })
            })
            .collect();
        let n: u32 = grove::joinall(clients).into_iter().map(Result::unwrap).sum();
        assert_eq!(n, 500);
        // 5 sequential 20 ms echoes per client; 100 clients concurrently: about 100 ms in
        // total, not 100 x 100 ms (a generous bound for a loaded CI machine).
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        server.kill().unwrap();
    });
}
