//! `TcpProxy` in front of a real TCP echo server: bytes go both ways, `refuse` closes the port,
//! `drop_connections` closes what is open, `accept` opens the same port again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use unitel_testkit::TcpProxy;

/// An echo server on a thread: each connection gets back what it sends.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

fn round_trip(stream: &mut TcpStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(text)?;
    let mut back = vec![0u8; text.len()];
    stream.read_exact(&mut back)?;
    Ok(back)
}

#[test]
fn a_proxy_forwards_refuses_drops_and_accepts_again() {
    let upstream = echo_server();
    let proxy = TcpProxy::start(upstream.clone()).unwrap();
    assert_eq!(proxy.upstream(), upstream);
    let mut open = TcpStream::connect(proxy.addr()).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(round_trip(&mut open, b"hello").unwrap(), b"hello");
    assert_eq!(proxy.open_connections(), 1);

    // Refused: the port is closed, the open connection still works.
    proxy.refuse();
    let refused = TcpStream::connect(proxy.addr()).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
    assert_eq!(round_trip(&mut open, b"still").unwrap(), b"still");

    // Dropped: the open connection ends (EOF or an error, never a reply).
    assert_eq!(proxy.drop_connections(Duration::from_millis(100)), 1);
    assert_eq!(proxy.open_connections(), 0);
    let mut rest = Vec::new();
    let _ = open.write_all(b"gone?");
    match open.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "{rest:?}"),
        Err(e) => assert_ne!(
            e.kind(),
            ErrorKind::WouldBlock,
            "the connection stayed open"
        ),
    }

    // Accepting again, on the same address.
    let port = proxy.port();
    proxy.accept().unwrap();
    assert_eq!(proxy.port(), port);
    let mut again = TcpStream::connect(proxy.addr()).unwrap();
    again
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(round_trip(&mut again, b"back").unwrap(), b"back");
    assert_eq!(proxy.accepted_connections(), 2);
}

#[test]
fn a_connection_closed_upstream_ends_by_itself() {
    // An upstream that answers once and closes, as a server terminating a session does.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.write_all(b"FATAL: terminating connection");
        }
    });
    let proxy = TcpProxy::start(upstream).unwrap();
    let mut client = TcpStream::connect(proxy.addr()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"FATAL: terminating connection");
    drop(client);
    // Both directions ended: nothing was left to drop.
    assert_eq!(proxy.drop_connections(Duration::from_secs(10)), 0);
}
