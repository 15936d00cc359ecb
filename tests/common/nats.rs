// A harness for tests against a real `nats-server` (Debian's, `/usr/sbin/nats-server`):
// writes a config file (client port, JetStream store, WebSocket listener, auth, cluster),
// starts the server on free loopback ports, waits until it answers, and kills it when the
// handle drops (also on a panic). Include it with
// `#[path = "common/nats.rs"] mod nats_harness;`.
//
// The WebSocket listener a browser or worker connects to, without TLS, on loopback:
//
//     websocket { listen: "127.0.0.1:PORT", no_tls: true }
//
// (nats-server refuses to start a websocket block without TLS unless `no_tls: true`, and
// starts no listener at all without a port.)
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The server binary: `NATS_SERVER` if set, else Debian's.
pub fn server_binary() -> PathBuf {
    std::env::var_os("NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "tributary-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A route to other servers of a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The cluster's name (the same on every node).
    pub name: String,
    /// This node's route port.
    pub port: u16,
    /// The route ports of the other nodes.
    pub routes: Vec<u16>,
}

/// What to put in the server's config file.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The server's name (JetStream in a cluster needs distinct names).
    pub server_name: String,
    /// The client (TCP) port.
    pub client_port: u16,
    /// The WebSocket port, if any (plain `ws://`, loopback only).
    pub ws_port: Option<u16>,
    /// Whether JetStream is on (its store goes in the server's temp dir).
    pub jetstream: bool,
    /// Raw config text for auth, e.g. `authorization { token: "s3cret" }`.
    pub auth: Option<String>,
    /// The cluster block, if clustered.
    pub cluster: Option<ClusterConfig>,
    /// Any other raw config text.
    pub extra: String,
}

impl ServerConfig {
    /// A standalone server with JetStream and a WebSocket listener on free ports.
    pub fn new(server_name: &str) -> ServerConfig {
        ServerConfig {
            server_name: server_name.to_string(),
            client_port: free_port(),
            ws_port: Some(free_port()),
            jetstream: true,
            auth: None,
            cluster: None,
            extra: String::new(),
        }
    }

    /// The config file's text, with the JetStream store under `store_dir`.
    pub fn render(&self, store_dir: &Path) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "server_name: {:?}", self.server_name);
        let _ = writeln!(c, "listen: \"127.0.0.1:{}\"", self.client_port);
        if self.jetstream {
            let _ = writeln!(
                c,
                "jetstream {{\n  store_dir: {:?}\n  max_memory_store: 256MB\n  max_file_store: 2GB\n}}",
                store_dir.display().to_string()
            );
        }
        if let Some(ws) = self.ws_port {
            let _ = writeln!(
                c,
                "websocket {{\n  listen: \"127.0.0.1:{ws}\"\n  no_tls: true\n}}"
            );
        }
        if let Some(cluster) = &self.cluster {
            let routes: Vec<String> = cluster
                .routes
                .iter()
                .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
                .collect();
            let _ = writeln!(
                c,
                "cluster {{\n  name: {:?}\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}",
                cluster.name,
                cluster.port,
                routes.join(", ")
            );
        }
        if let Some(auth) = &self.auth {
            let _ = writeln!(c, "{auth}");
        }
        if !self.extra.is_empty() {
            let _ = writeln!(c, "{}", self.extra);
        }
        c
    }
}

/// A running `nats-server`, killed (and its store removed) on drop.
#[derive(Debug)]
pub struct NatsServer {
    pub config: ServerConfig,
    child: Option<Child>,
    dir: TempDir,
}

impl NatsServer {
    /// Writes the config, starts the server and waits (up to 15 s) until its client port
    /// sends `INFO` and its WebSocket port (if any) accepts connections.
    pub fn start(config: ServerConfig) -> NatsServer {
        let server = NatsServer::spawn(config);
        server.wait_ready(Duration::from_secs(15));
        server
    }

    /// Writes the config and starts the server without waiting (for a cluster, whose
    /// nodes are started together).
    pub fn spawn(config: ServerConfig) -> NatsServer {
        let dir = TempDir::new(&config.server_name);
        let store = dir.path().join("jetstream");
        let conf_path = dir.path().join("nats.conf");
        std::fs::write(&conf_path, config.render(&store)).expect("write nats.conf");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let log_err = log.try_clone().expect("log file");
        let child = Command::new(server_binary())
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server_binary().display()));
        NatsServer {
            config,
            child: Some(child),
            dir,
        }
    }

    pub fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.answers_info() && self.config.ws_port.is_none_or(port_accepts) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "nats-server {} did not start; config:\n{}\nlog:\n{}",
                    self.config.server_name,
                    self.config_text(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answers_info(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.config.client_port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).is_ok() && &buf == b"INFO "
    }

    pub fn client_port(&self) -> u16 {
        self.config.client_port
    }

    pub fn ws_port(&self) -> Option<u16> {
        self.config.ws_port
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.conf")).unwrap_or_default()
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Sends a signal by name (`STOP`, `CONT`, `TERM`, ...) to the server process.
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string())
                .status();
        }
    }

    /// Kills the server now and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        // A stopped (SIGSTOP) process still dies of SIGKILL.
        self.kill();
    }
}

/// Whether something accepts TCP connections on the loopback port.
pub fn port_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Configs of an `n`-node cluster (JetStream and WebSocket on each), routes to all others.
pub fn cluster_configs(n: usize, cluster_name: &str) -> Vec<ServerConfig> {
    let route_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    (0..n)
        .map(|i| {
            let mut config = ServerConfig::new(&format!("{cluster_name}-n{}", i + 1));
            config.cluster = Some(ClusterConfig {
                name: cluster_name.to_string(),
                port: route_ports[i],
                routes: route_ports
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, p)| *p)
                    .collect(),
            });
            config
        })
        .collect()
}

/// Starts an `n`-node cluster and waits until every node answers.
pub fn start_cluster(n: usize, cluster_name: &str) -> Vec<NatsServer> {
    let servers: Vec<NatsServer> = cluster_configs(n, cluster_name)
        .into_iter()
        .map(NatsServer::spawn)
        .collect();
    for s in &servers {
        s.wait_ready(Duration::from_secs(20));
    }
    servers
}

/// Opens a WebSocket to the server (RFC 6455 handshake, no extensions) and returns the
/// stream right after the `101` response.
pub fn websocket_handshake(port: u16) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::other("closed during the handshake"));
        }
        response.push(byte[0]);
        if response.len() > 16 * 1024 {
            return Err(std::io::Error::other("handshake response too long"));
        }
    }
    let text = String::from_utf8_lossy(&response);
    if !text.starts_with("HTTP/1.1 101") {
        return Err(std::io::Error::other(format!("no upgrade: {text}")));
    }
    Ok(stream)
}

/// Reads one unmasked server WebSocket frame: (opcode, payload).
pub fn websocket_read_frame(stream: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head)?;
    let opcode = head[0] & 0x0f;
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b)?;
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            stream.read_exact(&mut b)?;
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    if head[1] & 0x80 != 0 {
        return Err(std::io::Error::other("server frames are not masked"));
    }
    let mut payload = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
    stream.read_exact(&mut payload)?;
    Ok((opcode, payload))
}
