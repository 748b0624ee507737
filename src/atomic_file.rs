//! Atomic file replacement, for every file tributary writes in place of an older one: the
//! merged feed, exports, and the config that `import-opml` extends.
//!
//! Design decision: a reader of the path sees the old bytes or the new ones, never a mix, and
//! after a crash the path holds one of the two. The bytes go to a temporary file in the
//! target's own directory (a rename is atomic only within one filesystem), are fsynced,
//! renamed over the target by [`tempfile::NamedTempFile::persist`], and then the directory is
//! fsynced, since the rename lives in the directory and is lost with it otherwise. tempfile
//! picks the unused name and removes the file on every failure before the rename.

use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes` atomically and durably (see the module header).
///
/// The temporary file is hidden (`.NAME.XXXXXX.tmp`), so a server's listing or a glob such as
/// `*.atom` never picks it up. The new file gets the permissions a plain create would (umask),
/// not those of the file it replaces, nor tempfile's private 0600: the merged feed is often
/// read by another user's web server.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes)
        .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Elsewhere a directory cannot be opened as a file; the rename is still atomic.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
