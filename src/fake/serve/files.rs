//! Files the server writes for its harness (ready file, reports, a self-signed CA): each is
//! written whole through a temporary file and renamed into place, so readers never see half of
//! it, and the temporary file has an unpredictable name and is created exclusively
//! (`O_CREAT | O_EXCL`), so a file or link planted under that name is never written through;
//! the rename replaces a link at the path itself, not its target.

use std::{
    hash::{BuildHasher as _, Hasher as _},
    io::Write as _,
    path::Path,
};

use crate::error::{Error, Result};

/// Writes `bytes` to `path`, replacing what is there.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    // std's hasher keys are random per process: 64 unguessable bits per attempt.
    let random = || {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.finish()
    };
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let tmp = path.with_file_name(format!(".{file_name}.{:016x}.tmp", random()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                attempt += 1;
            }
            Err(err) => return Err(Error::io(&tmp, err)),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|err| Error::io(&tmp, err))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|err| Error::io(path, err)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
