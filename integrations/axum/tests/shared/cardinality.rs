//! Cardinality and memory: 100,000 requests to random unmatched paths add no series beyond
//! `route="unmatched"` and grow resident memory by less than 5 MiB. Alone in its test binary
//! so nothing else allocates while memory is measured.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;

use futures_util::future::join_all;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use unitel::Registry;

use crate::support::{ServerOptions, XorShift, client, labels, rss_bytes, series};

const CONNECTIONS: u64 = 8;
const BATCH: u64 = 64;

/// Sends `count` GETs to random unmatched paths over `CONNECTIONS` keep-alive connections,
/// `BATCH` pipelined requests at a time (raw HTTP/1.1: 100,000 requests through a debug-built
/// client would take longer than the test budget). Each answer must be an empty 404.
async fn random_unmatched(addr: SocketAddr, count: u64, seed: u64) {
    let per_connection = count / CONNECTIONS;
    assert_eq!(per_connection * CONNECTIONS, count);
    let loops = (0..CONNECTIONS).map(|c| async move {
        let mut rng = XorShift(seed ^ (c + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut batch = Vec::with_capacity(8 * 1024);
        let mut answers = Vec::with_capacity(16 * 1024);
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0;
        while sent < per_connection {
            let n = BATCH.min(per_connection - sent);
            batch.clear();
            for _ in 0..n {
                write!(
                    batch,
                    "GET /r/{:x}/{:x}?q={:x} HTTP/1.1\r\nhost: test\r\n\r\n",
                    rng.next_u64(),
                    rng.next_u64(),
                    rng.next_u64()
                )
                .unwrap();
            }
            stream.write_all(&batch).await.unwrap();
            // Empty-bodied answers: one header block each.
            answers.clear();
            let mut seen = 0;
            while seen < n {
                let read = stream.read(&mut buf).await.unwrap();
                assert!(read > 0, "server closed the connection");
                answers.extend_from_slice(&buf[..read]);
                seen = count_matches(&answers, b"\r\n\r\n");
            }
            assert_eq!(seen, n);
            assert_eq!(count_matches(&answers, b"HTTP/1.1 404 "), n);
            sent += n;
        }
    });
    join_all(loops).await;
}

fn count_matches(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_unmatched_paths_add_no_series_and_little_memory() {
    let registry = Registry::new();
    let server = crate::start_server(ServerOptions::local(&registry)).await;

    // Warm up: connections, allocator arenas, the route cache; one request through reqwest.
    let response = client().get(server.url("/r/warm-up")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    random_unmatched(server.addr, 10_000, 1).await;
    let before = rss_bytes();
    random_unmatched(server.addr, 100_000, 2).await;
    let after = rss_bytes();

    let text = unitel::prometheus::render_registry(&registry);
    let expected = BTreeMap::from([(labels("GET", "unmatched", "404"), 110_001.0)]);
    assert_eq!(series(&text, "http_requests_total"), expected);
    assert_eq!(
        series(&text, "http_request_duration_seconds_count"),
        expected
    );
    assert_eq!(series(&text, "http_requests_in_flight").len(), 1);
    let grown = after.saturating_sub(before);
    eprintln!("RSS before {before} B, after {after} B, grown {grown} B");
    assert!(
        grown < 5 * 1024 * 1024,
        "RSS grew by {grown} bytes over 100,000 requests"
    );
}
