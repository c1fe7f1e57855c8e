//! The health server's limits, against real connections on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callscore_telemetry::{Check, Health, Limits, Metrics, Status, router, serve};
use tokio_util::sync::CancellationToken;

async fn start(limits: Limits) -> (u16, Arc<Health>, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("an address").port();
    let health = Arc::new(Health::new());
    let app = router(Arc::new(Metrics::new("test")), Arc::clone(&health));
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, app, limits, stop.clone()));
    (port, health, stop)
}

/// Whether the server closes `stream` (reads end) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream
        .set_read_timeout(Some(within))
        .expect("a read timeout");
    let started = Instant::now();
    let mut buffer = [0u8; 512];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(_) => return started.elapsed() < within,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let (port, _, _stop) = start(limits).await;
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .expect("half a request");
        // never finishes the headers: the server must not wait for ever
        closed_within(&mut stream, Duration::from_secs(20))
    })
    .await
    .expect("the client thread");
    assert!(closed, "the connection stayed open");
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_limit_are_refused_and_the_rest_served() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let (port, health, _stop) = start(limits).await;
    health.set(Check::Store, true, Status::Reachable);
    let served = tokio::task::spawn_blocking(move || {
        // two idle connections hold the limit
        let idle: Vec<TcpStream> = (0..2)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connects"))
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let mut third = TcpStream::connect(("127.0.0.1", port)).expect("the kernel accepts");
        let refused = closed_within(&mut third, Duration::from_secs(10));
        drop(idle);
        std::thread::sleep(Duration::from_millis(200));
        let ok = callscore_testkit::http_request(port, "GET", "/readyz");
        (refused, ok)
    })
    .await
    .expect("the client thread");
    assert!(
        served.0,
        "a third connection was served over the limit of two"
    );
    assert_eq!(served.1.map(|(status, _)| status), Some(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_names_failing_checks_without_error_text() {
    let (port, health, _stop) = start(Limits::default()).await;
    health.set(Check::Store, false, Status::Refused);
    health.set(Check::Group, true, Status::Joined);
    let answer = tokio::task::spawn_blocking(move || {
        callscore_testkit::http_request(port, "GET", "/readyz")
    })
    .await
    .expect("the client thread")
    .expect("an answer");
    assert_eq!(answer.0, 503);
    let body: serde_json::Value = serde_json::from_str(&answer.1).expect("JSON");
    assert_eq!(body["failing"], serde_json::json!(["store"]));
    assert_eq!(body["checks"]["store"]["status"], "refused");
}
