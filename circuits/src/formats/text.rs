//! Reading an input file as text, the one way every reader does: a UTF-8
//! byte-order mark is dropped (editors on Windows write one), invalid UTF-8
//! is an error at its line and column, and a file is read only up to a
//! size limit, so that a device like `/dev/zero` or a runaway pipe stops
//! with an error instead of filling memory.
//!
//! ```
//! use deeplog_circuits::formats::text::{read_text, TextError};
//!
//! let dir = std::env::temp_dir().join(format!("deeplog-text-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("model.pl");
//! std::fs::write(&path, b"\xEF\xBB\xBFquery(a).\n").unwrap();
//! assert_eq!(read_text(&path).unwrap(), "query(a).\n");
//! std::fs::write(&path, b"a.\nb(\xFF).\n").unwrap();
//! let err = read_text(&path).unwrap_err();
//! assert!(matches!(err, TextError::NotUtf8 { line: 2, column: 3, .. }), "{err}");
//! ```

use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The largest input file read: 2 GiB (the model language's spans count
/// bytes in 32 bits, and no model or circuit file of ours comes near).
pub const MAX_BYTES: u64 = 2 << 30;

/// Why a file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot read {}: it is a device, not a file", path.display())]
    Device { path: PathBuf },
    #[error("cannot read {}: it is larger than the {} GiB limit on input files", path.display(), MAX_BYTES >> 30)]
    TooLarge { path: PathBuf },
    #[error("{}:{line}:{column}: not valid UTF-8 (the file's byte {byte})", path.display())]
    NotUtf8 { path: PathBuf, line: usize, column: usize, byte: usize },
}

/// The text of the file at `path`, without a byte-order mark.
pub fn read_text(path: &Path) -> Result<String, TextError> {
    let io = |source| TextError::Io { path: path.into(), source };
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = std::fs::metadata(path).map_err(io)?.file_type();
        if kind.is_char_device() || kind.is_block_device() {
            return Err(TextError::Device { path: path.into() });
        }
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path).map_err(io)?.take(MAX_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(TextError::TooLarge { path: path.into() });
    }
    text_of(bytes).map_err(|(line, column, byte)| TextError::NotUtf8 { path: path.into(), line, column, byte })
}

/// `bytes` as text without a byte-order mark; or where the first invalid
/// UTF-8 sequence is: line and column (1-based, in characters), and byte.
fn text_of(mut bytes: Vec<u8>) -> Result<String, (usize, usize, usize)> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let text = std::str::from_utf8(valid).unwrap_or_default();
        let line = text.matches('\n').count() + 1;
        let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column, valid.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped() {
        assert_eq!(text_of(b"\xEF\xBB\xBFa.\n".to_vec()), Ok("a.\n".to_string()));
        assert_eq!(text_of(b"a.\n".to_vec()), Ok("a.\n".to_string()));
    }

    #[test]
    fn invalid_utf8_is_located() {
        assert_eq!(text_of(b"ab\ncd\xC3(".to_vec()), Err((2, 3, 5)));
        assert_eq!(text_of(b"\xFF".to_vec()), Err((1, 1, 0)));
        assert_eq!(text_of("é!".bytes().chain([0xFF]).collect()), Err((1, 3, 3)));
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_before_reading() {
        let err = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(err, TextError::Device { .. }), "{err}");
        let err = read_text(Path::new("/no/such/file")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read /no/such/file:"), "{err}");
    }
}
