//! Running the real `tributary` binary against a config in a temporary directory.
#![allow(
    dead_code,
    reason = "shared by many test modules; each uses only some of the helpers"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tributary::store::StorageTarget;

/// A temporary state directory with a config file, and the binary to run against it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// `[storage] database` of the configs written here: a PostgreSQL URL, or `None` for the
    /// SQLite file `tributary.db` in the workspace.
    database: Option<String>,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temporary directory"),
            database: None,
        }
    }

    /// A workspace whose configs store into the PostgreSQL database at `url`.
    pub fn storing_in(url: String) -> Workspace {
        Workspace {
            database: Some(url),
            ..Workspace::new()
        }
    }

    /// `[storage] database` as the configs written here set it.
    pub fn database(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| self.path("tributary.db").display().to_string())
    }

    /// The store the binary writes to here, for a test to read it as the binary does.
    pub fn target(&self) -> StorageTarget {
        StorageTarget::parse(&self.database(), self.dir.path()).expect("a valid database")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a config whose database and merged feed live in this workspace. `feeds` is
    /// `(name, url, role)`; `extra` is appended as is.
    ///
    /// Transcripts are off unless `extra` has a `[transcripts]` table: the corpus's real
    /// podcasts name transcripts on public hosts, and fetching them would take tests online.
    pub fn write_config(&self, file: &str, feeds: &[(&str, String, &str)], extra: &str) -> PathBuf {
        let transcripts = if extra.contains("[transcripts]") {
            ""
        } else {
            "[transcripts]\nenabled = false\n\n"
        };
        let mut text = format!(
            "[storage]\ndatabase = \"{}\"\n\n[output]\natom_path = \"{}\"\ntitle = \"Test merged feed\"\n\n[fetch]\ntimeout = \"3s\"\nmax_body = \"1MiB\"\n\n{transcripts}{extra}\n",
            self.database(),
            self.path("merged.atom").display(),
        );
        for (name, url, role) in feeds {
            text.push_str(&format!(
                "[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\nrole = \"{role}\"\n\n"
            ));
        }
        let path = self.path(file);
        std::fs::write(&path, text).expect("write config");
        path
    }

    /// Runs the binary with `args`, from inside the workspace, and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        run_in(self.dir.path(), args)
    }

    pub fn merged_feed(&self) -> feed_rs::model::Feed {
        let bytes = std::fs::read(self.path("merged.atom")).expect("merged feed written");
        feed_rs::parser::parse(bytes.as_slice()).expect("merged feed parses")
    }
}

pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .current_dir(dir)
        .env_remove("TRIBUTARY_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .env("RUST_LOG", "info")
        .output()
        .expect("run tributary")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the command succeeded, showing its output if not.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}
