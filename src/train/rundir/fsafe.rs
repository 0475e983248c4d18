//! Files in a run directory opened as a database would: the directory once, by a handle checked
//! with fstat (ours, not writable by others, not a symlink), every file relative to that handle
//! with O_NOFOLLOW, new files with O_EXCL. A symlink anywhere convtop writes is refused.

use std::ffi::CString;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::train::error::TrainError;

/// How strict a directory check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirPolicy {
    /// A run directory: ours, and tightened to owner-only if group or others may write to it.
    Run,
    /// Any directory convtop writes into (an export folder): ours and no symlink, its mode kept.
    Owned,
    /// Where run directories are made (`--run-dir`): anyone's, reached as the person named it;
    /// what is made in it is checked on its own.
    Base,
}

/// An open directory, checked by its handle; files are opened relative to it.
pub struct DirHandle {
    dir: File,
    path: PathBuf,
    /// The mode it had before it was tightened to owner-only, if it was.
    pub tightened_from: Option<u32>,
}

pub fn euid() -> u32 {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

fn io_err(path: &Path, source: std::io::Error) -> TrainError {
    if source.raw_os_error() == Some(libc::ELOOP) {
        return refused(
            path,
            "is a symbolic link; convtop never writes or reads a run's files through one: remove it (and check who put it there)",
        );
    }
    TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn refused(path: &Path, problem: &str) -> TrainError {
    TrainError::Refused {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    }
}

fn c_name(path: &Path, name: &str) -> Result<CString, TrainError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(refused(path, &format!("{name:?} is not a plain file name")));
    }
    CString::new(name.as_bytes()).map_err(|_| refused(path, "a file name with a NUL byte"))
}

/// The error of the last libc call, or `Ok` for a result that is not -1.
fn check(ret: libc::c_int) -> std::io::Result<libc::c_int> {
    if ret == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl DirHandle {
    /// Opens `path` as a directory (never through a symlink) and checks it by its handle.
    pub fn open(path: &Path, policy: DirPolicy) -> Result<DirHandle, TrainError> {
        let nofollow = if policy == DirPolicy::Base {
            0
        } else {
            libc::O_NOFOLLOW
        };
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | nofollow | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOTDIR) => refused(path, "is not a directory (or is a symbolic link to one): convtop only uses a real directory"),
                _ => io_err(path, e),
            })?;
        let mut handle = DirHandle {
            dir,
            path: path.to_path_buf(),
            tightened_from: None,
        };
        handle.check(policy)?;
        Ok(handle)
    }

    fn check(&mut self, policy: DirPolicy) -> Result<(), TrainError> {
        if policy == DirPolicy::Base {
            return Ok(());
        }
        let meta = self.dir.metadata().map_err(|e| io_err(&self.path, e))?;
        let me = euid();
        if meta.uid() != me {
            return Err(refused(
                &self.path,
                &format!(
                    "is owned by uid {}, not by you (uid {me}): convtop only uses run directories \
                     you own; copy what you need into a directory of your own",
                    meta.uid()
                ),
            ));
        }
        let mode = meta.mode() & 0o7777;
        if policy == DirPolicy::Run && mode & 0o1000 != 0 {
            // a sticky directory is shared by design (/tmp, as root): never a run dir to tighten
            return Err(refused(
                &self.path,
                "is a shared directory (sticky bit, like /tmp), not a run directory: give the \
                 run's own directory (convtop ls lists them)",
            ));
        }
        if policy == DirPolicy::Run && mode & 0o022 != 0 {
            let tight = mode & !0o077;
            self.dir
                .set_permissions(Permissions::from_mode(tight))
                .map_err(|e| io_err(&self.path, e))?;
            self.tightened_from = Some(mode);
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file_path(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn openat(&self, name: &str, flags: libc::c_int) -> Result<File, TrainError> {
        let path = self.file_path(name);
        let c = c_name(&self.path, name)?;
        let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: a valid directory fd, a NUL-terminated name; the mode argument is read only
        // with O_CREAT. The returned fd is owned by nobody else.
        let fd = check(unsafe { libc::openat(self.dir.as_raw_fd(), c.as_ptr(), flags, 0o600) })
            .map_err(|e| io_err(&path, e))?;
        // SAFETY: `fd` was just opened and is not owned elsewhere.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// A regular file of ours with one name only (a hard link to another file is refused).
    fn check_file(&self, name: &str, f: &File) -> Result<(), TrainError> {
        let path = self.file_path(name);
        let meta = f.metadata().map_err(|e| io_err(&path, e))?;
        if !meta.file_type().is_file() {
            return Err(refused(&path, "is not a regular file: remove it"));
        }
        if meta.uid() != euid() {
            return Err(refused(
                &path,
                &format!("is owned by uid {}, not by you: remove it", meta.uid()),
            ));
        }
        if meta.nlink() > 1 {
            return Err(refused(
                &path,
                "has other hard links: convtop will not write into a file it cannot own alone; remove it",
            ));
        }
        Ok(())
    }

    /// A brand-new file (O_CREAT|O_EXCL|O_NOFOLLOW, 0600).
    pub fn create_new(&self, name: &str) -> Result<File, TrainError> {
        self.openat(name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)
    }

    /// Opens (creating if needed) a file to append to and read back; it must be ours.
    pub fn open_log(&self, name: &str) -> Result<File, TrainError> {
        let f = self.openat(name, libc::O_RDWR | libc::O_CREAT | libc::O_APPEND)?;
        self.check_file(name, &f)?;
        Ok(f)
    }

    /// Opens an existing file to read; `None` if there is none. A symlink is refused.
    pub fn open_read(&self, name: &str) -> Result<Option<File>, TrainError> {
        match self.openat(name, libc::O_RDONLY) {
            Ok(f) => Ok(Some(f)),
            Err(TrainError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, TrainError> {
        let Some(mut f) = self.open_read(name)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(|e| io_err(&self.file_path(name), e))?;
        Ok(Some(bytes))
    }

    pub fn unlink(&self, name: &str) -> Result<(), TrainError> {
        let c = c_name(&self.path, name)?;
        // SAFETY: a valid directory fd and a NUL-terminated name; unlinkat never follows links.
        check(unsafe { libc::unlinkat(self.dir.as_raw_fd(), c.as_ptr(), 0) })
            .map(drop)
            .map_err(|e| io_err(&self.file_path(name), e))
    }

    pub fn rename(&self, from: &str, to: &str) -> Result<(), TrainError> {
        let (a, b) = (c_name(&self.path, from)?, c_name(&self.path, to)?);
        let fd = self.dir.as_raw_fd();
        // SAFETY: valid fds and NUL-terminated names; rename replaces `to` itself, never a
        // file a symlink named `to` points at.
        check(unsafe { libc::renameat(fd, a.as_ptr(), fd, b.as_ptr()) })
            .map(drop)
            .map_err(|e| io_err(&self.file_path(to), e))
    }

    /// Makes a renamed or created entry durable.
    pub fn sync(&self) -> Result<(), TrainError> {
        self.dir.sync_all().map_err(|e| io_err(&self.path, e))
    }

    /// Creates sub-directory `name` (mkdir is exclusive: it fails if anything has that name).
    pub fn mkdir(&self, name: &str) -> Result<(), TrainError> {
        let c = c_name(&self.path, name)?;
        // SAFETY: a valid directory fd and a NUL-terminated name.
        check(unsafe { libc::mkdirat(self.dir.as_raw_fd(), c.as_ptr(), 0o700) })
            .map(drop)
            .map_err(|e| io_err(&self.file_path(name), e))
    }

    /// Writes file `name` so that a crash at any moment leaves either the old file or the new:
    /// a temporary file created O_EXCL|O_NOFOLLOW, fsync, rename, fsync of the directory.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), TrainError> {
        use std::io::Write;
        let tmp = format!(".{name}.tmp");
        let tmp_path = self.file_path(&tmp);
        let mut f = None;
        for _ in 0..3 {
            match self.create_new(&tmp) {
                Ok(file) => {
                    f = Some(file);
                    break;
                }
                // a crash left it, or someone planted it (a symlink is removed, not followed)
                Err(TrainError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
                    self.unlink(&tmp)?;
                }
                Err(e) => return Err(e),
            }
        }
        let mut f = f.ok_or_else(|| {
            refused(
                &tmp_path,
                "keeps reappearing after removal: someone else is writing here",
            )
        })?;
        let result = (|| {
            f.write_all(bytes).map_err(|e| io_err(&tmp_path, e))?;
            f.sync_all().map_err(|e| io_err(&tmp_path, e))?;
            self.rename(&tmp, name)?;
            self.sync()
        })();
        if result.is_err() {
            let _ = self.unlink(&tmp);
        }
        result
    }
}

/// Splits `path` into its directory and file name.
pub fn split(path: &Path) -> Result<(PathBuf, String), TrainError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| refused(path, "has no file name convtop can use (not UTF-8?)"))?;
    Ok((dir, name.to_string()))
}

/// `DirHandle::write_atomic` for a path: its directory must be yours and not a symlink.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let (dir, name) = split(path)?;
    DirHandle::open(&dir, DirPolicy::Owned)?.write_atomic(&name, bytes)
}

/// Reads a whole file without following a symlink at its last component.
pub fn read_nofollow(path: &Path) -> Result<Vec<u8>, TrainError> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| io_err(path, e))?;
    Ok(bytes)
}

/// Creates `path` as a new directory of ours (an export folder); an existing one must be ours
/// and no symlink.
pub fn ensure_dir(path: &Path) -> Result<DirHandle, TrainError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => DirHandle::open(path, DirPolicy::Owned),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let (parent, name) = split(path)?;
            std::fs::create_dir_all(&parent).map_err(|e| io_err(&parent, e))?;
            DirHandle::open(&parent, DirPolicy::Owned)?.mkdir(&name)?;
            DirHandle::open(path, DirPolicy::Owned)
        }
        Err(e) => Err(io_err(path, e)),
    }
}

/// The uid of the process at the other end of a Unix socket (SO_PEERCRED).
pub fn peer_uid(stream: &std::os::unix::net::UnixStream) -> std::io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: a valid socket fd; `cred` and `len` point at a ucred of the size passed.
    check(unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &raw mut len,
        )
    })?;
    Ok(cred.uid)
}
