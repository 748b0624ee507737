//! The real `tributary run` as a child process: started, asked over HTTP, signalled, stopped.
#![allow(
    dead_code,
    reason = "shared by many test modules; each uses only some of the helpers"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use super::binary::Workspace;

/// A port nothing listens on now, for a daemon to listen on.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The running daemon; killed if a test fails before stopping it.
pub struct Daemon {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts the daemon and waits until it is ready (its first cycle finished).
    pub fn start(ws: &Workspace, config: &Path, port: u16) -> Daemon {
        let daemon = Daemon::spawn(ws, config, port);
        daemon.wait_for("readyz", || daemon.get("/readyz").0 == 200);
        daemon
    }

    /// Starts the daemon without waiting for it.
    pub fn spawn(ws: &Workspace, config: &Path, port: u16) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["--config", config.to_str().expect("path"), "run"])
            .current_dir(ws.dir.path())
            .env_remove("TRIBUTARY_CONFIG")
            .env_remove("STATE_DIRECTORY")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tributary run");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Daemon { child, port, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A plain blocking GET over a raw socket: (status, headers, body).
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new(), String::new());
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new(), String::new());
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_owned(), body.to_owned())
    }

    pub fn get(&self, path: &str) -> (u16, String, String) {
        self.get_with(path, &[])
    }

    pub fn header(head: &str, name: &str) -> Option<String> {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    pub fn log(&self) -> String {
        self.log.lock().clone()
    }

    pub fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if ready() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out waiting for {what}; log:\n{}\n{}",
            self.log(),
            self.stacks()
        );
    }

    /// Each thread's stack, read with gdb where it is installed: a daemon that stalls on a
    /// loaded machine and not alone says where it waits, rather than only that it did.
    fn stacks(&self) -> String {
        let pid = self.child.id().to_string();
        match Command::new("gdb")
            .args(["-batch", "-ex", "thread apply all bt", "-p", &pid])
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) => format!("threads:\n{}", String::from_utf8_lossy(&out.stdout)),
            Err(error) => format!("(no thread stacks: gdb: {error})"),
        }
    }

    /// The CPU time the daemon has used so far (user and system), from `/proc`.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the daemon's /proc stat");
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .expect("stat")
            .1
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 of stat(5); the state (field 3) comes first.
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        let per_second: u64 = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100);
        Duration::from_millis(ticks * 1000 / per_second)
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGTERM, then the exit status and how long it took.
    pub fn stop(mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        self.signal("TERM");
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, started.elapsed());
            }
            // A cycle cut short still finishes the write it is in (the PostgreSQL client runs
            // off the runtime, and the runtime waits for it); with two instances taking turns
            // at the ingest lock on a loaded two-core CI machine, 10 s was exceeded in two of
            // four full runs. systemd's default stop timeout is 90 s.
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "did not stop within 30 s after SIGTERM; log:\n{}\n{}",
                self.log(),
                self.stacks()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
