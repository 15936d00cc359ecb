//! The sans-IO sink (`tributary::sink`) driven over plain TCP against a real
//! `nats-server` with JetStream: the NATS protocol is the same bytes over TCP as over the
//! WebSocket the bindings use. Checks delivery, de-duplication across a restarted
//! client, connection cuts by a proxy, refused credentials and a wrong stream.
#![cfg(all(not(target_arch = "wasm32"), feature = "sink"))]

#[path = "common/nats.rs"]
mod nats_harness;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nats_harness::{NatsServer, ServerConfig};
use tributary::nats::{
    encode_pub, encode_sub, parse_stream_info, stream_info_subject, Credentials, Parser, ServerOp,
    DEFAULT_API_PREFIX, PING,
};
use tributary::sink::{Action, Sink, SinkConfig, SinkState};
use tributary::{Client, ProduceRecord, ProducerConfig, RetentionConfig, TopicConfig};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The host side of a sink: a TCP connection per `Action::Open`, bytes both ways.
struct Host {
    sock: Option<TcpStream>,
    opens: u32,
}

impl Host {
    fn new() -> Host {
        Host {
            sock: None,
            opens: 0,
        }
    }

    fn port_of(url: &str) -> u16 {
        url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Carries out the sink's actions and feeds it what arrived; returns false once the
    /// sink has nothing to do for a while.
    fn turn(&mut self, sink: &mut Sink, client: &mut Client) {
        for action in sink.take_actions() {
            match action {
                Action::Open { url } => {
                    self.opens += 1;
                    self.sock = None;
                    match TcpStream::connect(("127.0.0.1", Self::port_of(&url))) {
                        Ok(s) => {
                            s.set_nonblocking(true).unwrap();
                            s.set_nodelay(true).unwrap();
                            self.sock = Some(s);
                            sink.on_open(now());
                        }
                        Err(_) => sink.on_closed(now()),
                    }
                }
                Action::Send(bytes) => {
                    if let Some(s) = self.sock.as_mut() {
                        if write_all_nonblocking(s, &bytes).is_err() {
                            self.sock = None;
                            sink.on_closed(now());
                        }
                    }
                }
                Action::Close => self.sock = None,
                Action::Sign { .. } => panic!("no nkey in these tests"),
            }
        }
        let mut buf = [0u8; 64 * 1024];
        let mut closed = false;
        if let Some(s) = self.sock.as_mut() {
            loop {
                match s.read(&mut buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => sink.on_data(client, &buf[..n], now()),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
        }
        if closed {
            self.sock = None;
            sink.on_closed(now());
        }
        client.poll(now());
        sink.poll(client, now());
    }
}

fn write_all_nonblocking(s: &mut TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match s.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_micros(50)),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn topic(partitions: u32) -> TopicConfig {
    TopicConfig {
        partitions,
        ..TopicConfig::default()
    }
}

fn fill(client: &mut Client, topic: &str, n: usize) {
    let p = client
        .topic_producer(topic, ProducerConfig::default())
        .unwrap();
    for i in 0..n {
        let rec = ProduceRecord::keyed(format!("user-{}", i % 97), format!("value-{i}"));
        client.send(p, &rec, now()).unwrap();
        if i % 1000 == 999 {
            client.flush(now());
        }
    }
    client.flush(now());
}

fn acked_everything(client: &Client, topic: &str) -> bool {
    client.logs(topic).unwrap().iter().all(|l| {
        let i = l.info();
        i.acked_offset == Some(i.high_watermark)
    })
}

fn run_until(
    host: &mut Host,
    sink: &mut Sink,
    client: &mut Client,
    limit: Duration,
    done: impl Fn(&Sink, &Client) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(sink, client) {
        assert!(
            Instant::now() < deadline,
            "timed out: state {:?}, error {:?}, stats {:?}",
            sink.state(),
            sink.error(),
            sink.stats()
        );
        host.turn(sink, client);
        thread::sleep(Duration::from_micros(200));
    }
}

fn until_acked(host: &mut Host, sink: &mut Sink, client: &mut Client, topic: &str, secs: u64) {
    run_until(host, sink, client, Duration::from_secs(secs), |_, c| {
        acked_everything(c, topic)
    });
}

fn until_failed(host: &mut Host, sink: &mut Sink, client: &mut Client) {
    run_until(host, sink, client, Duration::from_secs(20), |s, _| {
        s.state() == SinkState::Failed
    });
}

/// The stream's message count, asked over a connection of its own.
fn stream_messages(port: u16, stream: &str) -> u64 {
    stream_messages_as(port, stream, "")
}

fn stream_messages_as(port: u16, stream: &str, token: &str) -> u64 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = format!(
        "CONNECT {{\"verbose\":false,\"headers\":true,\"no_responders\":true,\"auth_token\":\"{token}\"}}\r\n"
    )
    .into_bytes();
    encode_sub(&mut out, "_INBOX.count", None, 9).unwrap();
    let subject = stream_info_subject(DEFAULT_API_PREFIX, stream).unwrap();
    encode_pub(&mut out, &subject, Some("_INBOX.count"), b"").unwrap();
    out.extend_from_slice(PING);
    s.write_all(&out).unwrap();
    let mut parser = Parser::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "server closed");
        parser.push(&buf[..n]);
        while let Some(op) = parser.next_op().unwrap() {
            if let ServerOp::Msg(m) = op {
                return parse_stream_info(&m).unwrap().messages;
            }
        }
    }
}

fn sink_config(port: u16, prefix: &str) -> SinkConfig {
    let mut c = SinkConfig::new(&format!("ws://127.0.0.1:{port}"), prefix);
    c.provision = true;
    c.ack_timeout_ms = 2_000;
    c
}

#[test]
fn delivers_every_record_once_and_a_restarted_client_adds_no_duplicates() {
    let server = NatsServer::start(ServerConfig::new("sink-a"));
    let port = server.client_port();
    let n = 20_000;
    let mut client = Client::new(1);
    client.create_topic("clicks", topic(8)).unwrap();
    fill(&mut client, "clicks", n);
    let mut sink = Sink::new(&mut client, "clicks", sink_config(port, "run1"), 7, now()).unwrap();
    let mut host = Host::new();
    until_acked(&mut host, &mut sink, &mut client, "clicks", 60);
    assert_eq!(sink.state(), SinkState::Connected);
    let stats = sink.stats();
    assert_eq!(stats.acked, n as u64);
    assert_eq!(stats.duplicates, 0);
    assert_eq!(stats.failed_records, 0);
    assert_eq!(stream_messages(port, "clicks"), n as u64);
    let acked = sink.take_acked();
    assert_eq!(acked.len(), 8, "one progress report per partition");

    // A second client with the same id prefix sends the same ids again: all duplicates.
    let mut again = Client::new(1);
    again.create_topic("clicks", topic(8)).unwrap();
    fill(&mut again, "clicks", n);
    let mut sink2 = Sink::new(&mut again, "clicks", sink_config(port, "run1"), 8, now()).unwrap();
    until_acked(&mut host, &mut sink2, &mut again, "clicks", 60);
    assert_eq!(sink2.stats().duplicates, n as u64);
    assert_eq!(stream_messages(port, "clicks"), n as u64);
}

/// A TCP proxy that cuts every connection after a random number of bytes.
fn cutting_proxy(target: u16, cuts: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    thread::spawn(move || {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        while !stop.load(Ordering::Relaxed) {
            let Ok((down, _)) = listener.accept() else {
                thread::sleep(Duration::from_millis(2));
                continue;
            };
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let budget = 20_000 + (seed % 400_000) as i64;
            let up = TcpStream::connect(("127.0.0.1", target)).unwrap();
            let left = Arc::new(Mutex::new(budget));
            let pipes = [
                (down.try_clone().unwrap(), up.try_clone().unwrap()),
                (up.try_clone().unwrap(), down.try_clone().unwrap()),
            ];
            for (mut from, mut to) in pipes {
                let left = left.clone();
                let cuts = cuts.clone();
                thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut l = left.lock().unwrap();
                        *l -= n as i64;
                        if *l < 0 {
                            if *l + (n as i64) >= 0 {
                                cuts.fetch_add(1, Ordering::Relaxed);
                            }
                            break;
                        }
                        drop(l);
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                });
            }
        }
    });
    port
}

#[test]
fn connection_cuts_lose_nothing_and_double_nothing() {
    let server = NatsServer::start(ServerConfig::new("sink-cuts"));
    let cuts = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let proxy = cutting_proxy(server.client_port(), cuts.clone(), stop.clone());
    let n = 60_000;
    let mut client = Client::new(2);
    client.create_topic("cuts", topic(4)).unwrap();
    fill(&mut client, "cuts", n);
    let mut config = sink_config(proxy, "cut");
    config.backoff_initial_ms = 5;
    config.backoff_max_ms = 50;
    let mut sink = Sink::new(&mut client, "cuts", config, 3, now()).unwrap();
    let mut host = Host::new();
    until_acked(&mut host, &mut sink, &mut client, "cuts", 120);
    stop.store(true, Ordering::Relaxed);
    let cuts = cuts.load(Ordering::Relaxed);
    assert!(cuts >= 20, "only {cuts} cuts");
    assert!(sink.stats().disconnects >= 20);
    assert_eq!(sink.stats().failed_records, 0);
    assert_eq!(stream_messages(server.client_port(), "cuts"), n as u64);
}

#[test]
fn refused_credentials_are_sink_auth_and_keep_the_records() {
    let mut config = ServerConfig::new("sink-auth");
    config.auth = Some("authorization { token: \"right-token\" }".into());
    let server = NatsServer::start(config);
    let port = server.client_port();
    let mut client = Client::new(4);
    client.create_topic("auth", topic(2)).unwrap();
    fill(&mut client, "auth", 500);
    let mut wrong = sink_config(port, "auth1");
    wrong.credentials = Credentials::Token("wrong-token".into());
    let mut sink = Sink::new(&mut client, "auth", wrong, 5, now()).unwrap();
    let mut host = Host::new();
    until_failed(&mut host, &mut sink, &mut client);
    assert_eq!(sink.error().unwrap().code(), "SINK_AUTH");
    assert!(!sink.error().unwrap().message().contains("wrong-token"));
    assert!(!format!("{sink:?}").contains("wrong-token"));
    let held: u64 = client
        .logs("auth")
        .unwrap()
        .iter()
        .map(|l| l.unacked_records())
        .sum();
    assert_eq!(held, 500, "the records wait for a sink that can log in");

    let mut right = sink_config(port, "auth1");
    right.credentials = Credentials::Token("right-token".into());
    let mut sink = Sink::new(&mut client, "auth", right, 6, now()).unwrap();
    until_acked(&mut host, &mut sink, &mut client, "auth", 30);
    assert_eq!(stream_messages_as(port, "auth", "right-token"), 500);
}

#[test]
fn a_subject_of_another_stream_is_sink_wrong_stream() {
    let server = NatsServer::start(ServerConfig::new("sink-wrong"));
    let port = server.client_port();
    // Stream "owner" captures wrong.*; the sink expects stream "mine".
    let mut client = Client::new(6);
    client.create_topic("wrong", topic(1)).unwrap();
    let mut owner = sink_config(port, "own");
    owner.stream = Some("owner".into());
    let mut sink = Sink::new(&mut client, "wrong", owner, 1, now()).unwrap();
    let mut host = Host::new();
    fill(&mut client, "wrong", 1);
    until_acked(&mut host, &mut sink, &mut client, "wrong", 20);
    sink.close();
    host.turn(&mut sink, &mut client);

    fill(&mut client, "wrong", 3);
    let mut mine = sink_config(port, "mine");
    mine.stream = Some("mine".into());
    mine.provision = false;
    let mut sink = Sink::new(&mut client, "wrong", mine, 2, now()).unwrap();
    until_failed(&mut host, &mut sink, &mut client);
    assert_eq!(sink.error().unwrap().code(), "SINK_WRONG_STREAM");
    assert_eq!(client.logs("wrong").unwrap()[0].unacked_records(), 3);
}

#[test]
fn a_full_outbox_holds_appends_back_instead_of_growing() {
    // No server at all: the sink keeps reconnecting; the outbox is bounded by retention.
    let mut client = Client::new(9);
    client
        .create_topic(
            "held",
            TopicConfig {
                partitions: 1,
                retention: RetentionConfig {
                    max_records: Some(1_000),
                    ..RetentionConfig::default()
                },
                ..TopicConfig::default()
            },
        )
        .unwrap();
    let dead = nats_harness::free_port();
    let _sink = Sink::new(&mut client, "held", sink_config(dead, "held"), 1, now()).unwrap();
    let p = client
        .topic_producer(
            "held",
            ProducerConfig {
                batch_queue_size: 4,
                batch_size: 1024,
                ..ProducerConfig::default()
            },
        )
        .unwrap();
    let mut full = 0;
    for i in 0..5_000 {
        match client.send(p, &ProduceRecord::new(format!("v{i:06}")), now()) {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.code(), "QUEUE_FULL");
                full += 1;
            }
        }
        client.flush(now());
    }
    let log = &client.logs("held").unwrap()[0];
    assert!(log.unacked_records() <= 1_000, "{}", log.unacked_records());
    assert!(full > 3_000, "sends met a full queue: {full}");
    assert_eq!(log.info().lost_records, 0);
    let _ = PING;
}
