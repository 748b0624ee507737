//! A throwaway PostgreSQL cluster for tests: Debian's server binaries, a cluster in a temporary
//! directory listening on a Unix socket in that directory and on a free 127.0.0.1 port,
//! stopped and removed when the [`Cluster`] is dropped. Each test starts its own, so nothing
//! outlives it (a cluster shared through a static would never be dropped).
//!
//! Without PostgreSQL installed, [`Cluster::start`] prints "skipped" and returns `None`, unless
//! `TRIBUTARY_REQUIRE_POSTGRES=1` (CI), which makes a missing server a failure. An installed
//! server that does not start is always a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::daemon::free_port;

/// The user the server runs as when the tests run as root (PostgreSQL refuses root).
const SERVER_USER: &str = "postgres";

/// The superuser `initdb` creates; trust authentication, so no password.
const SUPERUSER: &str = "tributary";

pub struct Cluster {
    bin: PathBuf,
    /// Removed after the server stopped (field order: `stop` runs in `drop` first).
    dir: tempfile::TempDir,
    port: u16,
    as_root: bool,
}

impl Cluster {
    /// Starts a cluster, or returns `None` after printing why the caller's checks are skipped.
    pub fn start(test: &str) -> Option<Cluster> {
        let Some(bin) = server_binaries() else {
            assert!(
                std::env::var("TRIBUTARY_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "TRIBUTARY_REQUIRE_POSTGRES=1 but no PostgreSQL under /usr/lib/postgresql/*/bin \
                 (apt-get install postgresql)"
            );
            eprintln!("skipped: {test}: PostgreSQL is not installed");
            return None;
        };
        let as_root = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("tributary-pg")
            .tempdir()
            .expect("cluster directory");
        if as_root {
            run(Command::new("chown")
                .args(["-R", &format!("{SERVER_USER}:")])
                .arg(dir.path()));
        }
        let cluster = Cluster {
            bin,
            dir,
            port: free_port(),
            as_root,
        };
        let data = cluster.data();
        cluster.run_server_tool(
            "initdb",
            &[
                "--pgdata",
                path_str(&data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
        );
        let options = format!(
            "-k {} -h 127.0.0.1 -p {} -c fsync=off -c full_page_writes=off \
             -c log_lock_waits=on -c log_min_duration_statement=2000",
            path_str(cluster.dir.path()),
            cluster.port
        );
        let log = cluster.dir.path().join("server.log");
        cluster.run_server_tool(
            "pg_ctl",
            &[
                "--pgdata",
                path_str(&data),
                "--log",
                path_str(&log),
                "--options",
                &options,
                "--wait",
                "start",
            ],
        );
        Some(cluster)
    }

    /// A new, empty database in this cluster, as the URL `[storage] database` would hold
    /// (over TCP to 127.0.0.1).
    pub fn database(&self, name: &str) -> String {
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connect to the test cluster");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create database");
        self.url(name)
    }

    /// The URL of database `name` over TCP.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The URL of database `name` over the Unix socket in the cluster's directory.
    pub fn socket_url(&self, name: &str) -> String {
        let dir = path_str(self.dir.path()).replace('/', "%2F");
        format!("postgres://{SUPERUSER}@{dir}:{}/{name}", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the server's tools, as the server's user when we are root.
    fn run_server_tool(&self, tool: &str, args: &[&str]) -> Output {
        let program = self.bin.join(tool);
        let mut command = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", SERVER_USER, "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command.args(args).current_dir(self.dir.path());
        let output = command.output().expect("run a PostgreSQL tool");
        assert!(
            output.status.success(),
            "{tool} failed: {}{}\nserver log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
        output
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A test that failed, perhaps on a daemon that stalled: the server's lock waits (past
        // a second) and statements slower than two seconds say which side waited for what.
        if std::thread::panicking() {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            let waits: Vec<&str> = log
                .lines()
                .filter(|line| {
                    [
                        "still waiting",
                        "acquired",
                        "duration:",
                        "deadlock",
                        "Process holding",
                    ]
                    .iter()
                    .any(|mark| line.contains(mark))
                })
                .collect();
            eprintln!(
                "PostgreSQL's lock waits and slow statements ({} lines):\n{}",
                waits.len(),
                waits[waits.len().saturating_sub(60)..].join("\n")
            );
        }
        // Immediate: the data is thrown away anyway. Not asserted: a failing stop must not
        // turn a test's own panic into an abort; the directory goes either way.
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let mut command = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", SERVER_USER, "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let stopped = command
            .args([
                "--pgdata",
                path_str(&data),
                "--mode",
                "immediate",
                "--wait",
                "stop",
            ])
            .output();
        if let Err(e) = stopped {
            eprintln!("could not stop the test cluster: {e}");
        }
    }
}

/// Debian's server binaries, the newest installed major version first.
fn server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

fn run(command: &mut Command) {
    let status = command.status().expect("run a command");
    assert!(status.success(), "{command:?} failed");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A `Store` on the PostgreSQL database at `url` (as `[storage] database` would name it).
pub fn open_store(url: &str) -> tributary::store::Store {
    tributary::store::Store::open(tributary::store::StorageTarget::Postgres(
        tributary::store::postgres::PgTarget::parse(url).expect("valid URL"),
    ))
    .expect("open PostgreSQL store")
}
