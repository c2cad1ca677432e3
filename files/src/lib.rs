//! The `files` process (upstream `src/files/files.cpp`, `Files` and
//! `FilesProcess`): read-only access over HTTP to directories and files a
//! daemon "attaches" under virtual paths: the agent its executor sandboxes
//! (and its log), the master its log (`/master/log`).
//!
//! Endpoints (also with upstream 0.x's `.json` suffix, which older tools
//! still call):
//! - `/files/browse?path=P`: a JSON array of the entries of directory `P`,
//!   sorted by path, each `{gid, mode, mtime, nlink, path, size, uid}` as
//!   upstream's `model(FileInfo)` (`mode` as `ls -l` prints it, `uid`/`gid`
//!   as names, `mtime` in seconds).
//! - `/files/read?path=P&offset=N&length=M`: `{"data": .., "offset": ..}`.
//!   `offset=-1` (the web UI's pager asks this first) answers the file's
//!   size as `offset` with empty `data`; a read is capped at 16 pages.
//! - `/files/download?path=P`: the raw bytes, `Content-Type` from the
//!   extension (upstream's `mime::types`) or `application/octet-stream`,
//!   and `Content-Disposition: attachment; filename=<basename>`.
//! - `/files/debug`: the attached virtual paths and their real paths.
//!
//! A virtual path resolves through its longest attached prefix; what
//! follows the prefix is looked up under the attached directory and must
//! stay inside it once symlinks and `..` are resolved, else it is refused
//! with `400` (upstream's "is inaccessible"). Upstream compares the two
//! real paths as strings, so `/a/bc` passes as inside `/a/b`; here the
//! comparison is by path component (a deliberate tightening).
//!
//! The process owns the table of attached paths; every file system access
//! (real paths, listings, reads) runs on the blocking pool, never on the
//! actor. The v1 operator APIs of the master and the agent (`LIST_FILES`,
//! `READ_FILE`) go through the same code ([`Files::browse`],
//! [`Files::read`]).
//!
//! Deliberate differences: no authorization callbacks (neither daemon has
//! an authorizer, as upstream without one); `data` of a read is a JSON string,
//! so bytes that are not UTF-8 are replaced (upstream writes the raw
//! bytes); downloads are sent chunked instead of with a `Content-Length`.

use std::collections::{BTreeMap, HashMap};
use std::ffi::CStr;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use libprocess::http::{Body, Request, Response};
use libprocess::{HttpFuture, Process, ProcessBase, Runtime, SpawnError, PID};
use mesos_proto::json::render;
use mesos_proto::mesos::{FileInfo, TimeInfo};
use mesos_proto::model::dbl;
use serde_json::{Map, Value};

/// Why a files call failed; each kind maps to upstream's status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    /// Bad input (`400`): a path escaping its root, reading a directory.
    #[error("{0}")]
    Invalid(String),
    /// Nothing at that path (`404`).
    #[error("{0}")]
    NotFound(String),
    /// Anything else (`500`): the file could not be opened or read.
    #[error("{0}")]
    Unknown(String),
    /// The `files` process is gone.
    #[error("the files process is gone")]
    Gone,
}

impl FilesError {
    /// The HTTP response upstream answers this error with.
    pub fn response(&self) -> Response {
        match self {
            Self::Invalid(message) => Response::bad_request(message.clone()),
            Self::NotFound(message) => Response::not_found(message.clone()),
            Self::Unknown(message) => Response::internal_error(message.clone()),
            Self::Gone => Response::status(503)
                .with_body("text/plain; charset=utf-8", "The files process is gone"),
        }
    }
}

/// The module's result type.
pub type Result<T> = std::result::Result<T, FilesError>;

/// Upstream's read cap: 16 pages.
fn max_read_length() -> u64 {
    // SAFETY: `sysconf` only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).unwrap_or(4096).max(1) * 16
}

// ---------------------------------------------------------------------------
// Facade
// ---------------------------------------------------------------------------

/// The handle the agent holds on the `files` process (upstream `Files`).
#[derive(Clone)]
pub struct Files {
    pid: PID<FilesProcess>,
}

impl Files {
    /// Spawns the `files` process on `runtime`.
    pub fn spawn(runtime: &Runtime) -> std::result::Result<Self, SpawnError> {
        Self::spawn_guarded(runtime, None)
    }

    /// Spawns the `files` process with `guard` in front of its endpoints
    /// (the agent's read-only HTTP authentication, as upstream's `Files`
    /// takes the read-only realm).
    pub fn spawn_guarded(
        runtime: &Runtime,
        guard: Option<libprocess::runtime::BuiltinGuard>,
    ) -> std::result::Result<Self, SpawnError> {
        let mut process = FilesProcess::new();
        process.guard = guard;
        let pid = runtime.spawn(process)?;
        Ok(Self { pid })
    }

    /// Makes `path` (a directory or a file) readable as `virtual_path`,
    /// replacing what was attached there. Fails when `path` does not exist
    /// or cannot be read.
    pub async fn attach(&self, path: PathBuf, virtual_path: &str) -> Result<()> {
        let real = tokio::task::spawn_blocking(move || real_readable_path(&path))
            .await
            .map_err(|e| FilesError::Unknown(e.to_string()))??;
        let name = clean_virtual_path(virtual_path);
        self.pid
            .call(move |files, _| {
                files.paths.insert(name, real);
            })
            .await
            .map_err(|_| FilesError::Gone)
    }

    /// Removes `virtual_path` (a no-op when nothing is attached there).
    pub fn detach(&self, virtual_path: &str) {
        let name = clean_virtual_path(virtual_path);
        self.pid.dispatch(move |files, _| {
            files.paths.remove(&name);
        });
    }

    /// Lists the directory at virtual `path` (upstream `Files::browse`).
    pub async fn browse(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = from_uri(path).to_string();
        let found = self.lookup(&path).await?;
        blocking(move || browse(found, &path)).await
    }

    /// Reads up to `length` bytes (to the end when `None`; at most 16
    /// pages) at `offset` of the file at virtual `path`; returns the file's
    /// size and the data (upstream `Files::read`).
    pub async fn read(
        &self,
        offset: u64,
        length: Option<u64>,
        path: &str,
    ) -> Result<(u64, Vec<u8>)> {
        let path = from_uri(path).to_string();
        let found = self.lookup(&path).await?;
        blocking(move || read(found, &path, offset, length)).await
    }

    async fn lookup(&self, path: &str) -> Result<Option<(PathBuf, String)>> {
        let path = path.to_string();
        self.pid
            .call(move |files, _| lookup(&files.paths, &path))
            .await
            .map_err(|_| FilesError::Gone)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| FilesError::Unknown(e.to_string()))?
}

// ---------------------------------------------------------------------------
// Process
// ---------------------------------------------------------------------------

/// The `files` process: the attached paths and the `/files/*` endpoints.
pub struct FilesProcess {
    base: ProcessBase<Self>,
    /// Virtual path (no trailing `/`) → real path.
    paths: HashMap<String, PathBuf>,
    /// Checks every request first (HTTP authentication), when set.
    guard: Option<libprocess::runtime::BuiltinGuard>,
}

impl FilesProcess {
    fn new() -> Self {
        Self {
            base: ProcessBase::new("files"),
            paths: HashMap::new(),
            guard: None,
        }
    }
}

impl FilesProcess {
    /// The guard's answer to a request it refuses.
    fn refuse(&self, request: &Request) -> Option<libprocess::HttpFuture> {
        let guard = self.guard.as_ref()?;
        let response = guard(request).err()?;
        Some(Box::pin(async move { response }))
    }
}

impl actix::Actor for FilesProcess {
    type Context = actix::Context<Self>;
}

impl Process for FilesProcess {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }

    fn initialize(&mut self, _: &mut actix::Context<Self>) {
        for suffix in ["", ".json"] {
            self.base
                .route(&format!("/browse{suffix}"), |this, _, request| {
                    if let Some(refused) = this.refuse(&request) {
                        return refused;
                    }
                    http_browse(this, request)
                });
            self.base
                .route(&format!("/read{suffix}"), |this, _, request| {
                    if let Some(refused) = this.refuse(&request) {
                        return refused;
                    }
                    http_read(this, request)
                });
            self.base
                .route(&format!("/download{suffix}"), |this, _, request| {
                    if let Some(refused) = this.refuse(&request) {
                        return refused;
                    }
                    http_download(this, request)
                });
            self.base
                .route_sync(&format!("/debug{suffix}"), |this, _, request| {
                    if let Some(guard) = &this.guard {
                        if let Err(response) = guard(&request) {
                            return response;
                        }
                    }
                    let object: BTreeMap<&String, Value> = this
                        .paths
                        .iter()
                        .map(|(name, path)| (name, Value::from(path.display().to_string())))
                        .collect();
                    let object: Map<String, Value> =
                        object.into_iter().map(|(k, v)| (k.clone(), v)).collect();
                    Response::json(render(&Value::Object(object)), request.query_param("jsonp"))
                });
        }
    }
}

libprocess::process_handlers!(FilesProcess);

fn ready(response: Response) -> HttpFuture {
    Box::pin(async move { response })
}

/// The `path` query parameter, or upstream's `400`.
fn path_param(request: &Request) -> std::result::Result<String, Response> {
    match request.query_param("path") {
        Some(path) if !path.is_empty() => Ok(from_uri(path).to_string()),
        _ => Err(Response::bad_request("Expecting 'path=value' in query.\n")),
    }
}

fn http_browse(files: &mut FilesProcess, request: Request) -> HttpFuture {
    let path = match path_param(&request) {
        Ok(path) => path,
        Err(response) => return ready(response),
    };
    let found = lookup(&files.paths, &path);
    let jsonp = request.query_param("jsonp").map(str::to_string);
    Box::pin(async move {
        match blocking(move || browse(found, &path)).await {
            Ok(infos) => {
                let listing = infos.iter().map(file_info_json).collect();
                Response::json(render(&Value::Array(listing)), jsonp.as_deref())
            }
            Err(error) => error.response(),
        }
    })
}

/// Parses `offset` or `length` as upstream's `numify` (a decimal
/// integer), refusing values below -1.
fn numeric_param(request: &Request, name: &str) -> std::result::Result<Option<i64>, Response> {
    let Some(text) = request.query_param(name) else {
        return Ok(None);
    };
    let value: i64 = text.trim().parse().map_err(|_| {
        Response::bad_request(format!(
            "Failed to parse {name}: Failed to convert '{text}' to number.\n"
        ))
    })?;
    if value < -1 {
        return Err(Response::bad_request(format!(
            "Negative {name} provided: {value}.\n"
        )));
    }
    Ok(Some(value))
}

fn http_read(files: &mut FilesProcess, request: Request) -> HttpFuture {
    let path = match path_param(&request) {
        Ok(path) => path,
        Err(response) => return ready(response),
    };
    let (offset, length) = match (
        numeric_param(&request, "offset"),
        numeric_param(&request, "length"),
    ) {
        (Ok(offset), Ok(length)) => (offset.unwrap_or(-1), length),
        (Err(response), _) | (_, Err(response)) => return ready(response),
    };
    // `length=-1` is no length (MESOS-5334); `offset=-1` (also the default)
    // asks for the size: a read of nothing at 0.
    let mut length = length.and_then(|l| u64::try_from(l).ok());
    let start = if offset == -1 {
        length = Some(0);
        0
    } else {
        offset.unsigned_abs()
    };
    let found = lookup(&files.paths, &path);
    let jsonp = request.query_param("jsonp").map(str::to_string);
    Box::pin(async move {
        match blocking(move || read(found, &path, start, length)).await {
            Ok((size, data)) => {
                let mut object = Map::new();
                // Upstream's JSON::Object is a sorted map.
                object.insert(
                    "data".into(),
                    String::from_utf8_lossy(&data).into_owned().into(),
                );
                let offset = if offset == -1 { size } else { start };
                object.insert("offset".into(), offset.into());
                Response::json(render(&Value::Object(object)), jsonp.as_deref())
            }
            Err(error) => error.response(),
        }
    })
}

fn http_download(files: &mut FilesProcess, request: Request) -> HttpFuture {
    let path = match path_param(&request) {
        Ok(path) => path,
        Err(response) => return ready(response),
    };
    let found = lookup(&files.paths, &path);
    Box::pin(async move {
        let opened = blocking(move || {
            let Some(real) = resolve(found, &path)? else {
                return Err(FilesError::NotFound(String::new()));
            };
            if real.is_dir() {
                return Err(FilesError::Invalid("Cannot download a directory.\n".into()));
            }
            let file = std::fs::File::open(&real).map_err(|e| {
                FilesError::Unknown(format!(
                    "Failed to open file at '{}': {e}.\n",
                    real.display()
                ))
            })?;
            Ok((real, file))
        })
        .await;
        let (real, file) = match opened {
            Ok(opened) => opened,
            Err(error) => return error.response(),
        };
        let basename = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::task::spawn_blocking(move || stream_file(file, &tx));
        Response {
            status: 200,
            headers: vec![
                ("Content-Type".into(), mime_type(&basename).into()),
                (
                    "Content-Disposition".into(),
                    format!("attachment; filename={basename}"),
                ),
            ],
            body: Body::Stream(rx),
        }
    })
}

/// Sends `file` in chunks until its end, an error or the client leaving.
fn stream_file(mut file: std::fs::File, tx: &tokio::sync::mpsc::Sender<Bytes>) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => {
                if tx
                    .blocking_send(Bytes::copy_from_slice(&buffer[..n]))
                    .is_err()
                {
                    return;
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                tracing::warn!(%error, "Failed to read a file being downloaded");
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Resolution and file system work (on the blocking pool)
// ---------------------------------------------------------------------------

/// Upstream's `path::from_uri`: a `file://` URI is its path.
fn from_uri(path: &str) -> &str {
    path.strip_prefix("file://").unwrap_or(path)
}

/// A virtual path as the table keys it: no `file://`, no trailing `/`.
fn clean_virtual_path(virtual_path: &str) -> String {
    from_uri(virtual_path).trim_end_matches('/').to_string()
}

/// The real path of `path`, which must exist and be readable.
fn real_readable_path(path: &Path) -> Result<PathBuf> {
    let real = std::fs::canonicalize(path).map_err(|e| {
        let reason = if e.kind() == std::io::ErrorKind::NotFound {
            "No such file or directory".to_string()
        } else {
            e.to_string()
        };
        FilesError::Invalid(format!(
            "Failed to get realpath of '{}': {reason}",
            path.display()
        ))
    })?;
    let readable = if real.is_dir() {
        std::fs::read_dir(&real).map(drop)
    } else {
        std::fs::File::open(&real).map(drop)
    };
    readable
        .map_err(|e| FilesError::Invalid(format!("Failed to access '{}': {e}", path.display())))?;
    Ok(real)
}

/// The longest attached prefix of virtual `path` and what follows it
/// (upstream `FilesProcess::resolve`, its part without I/O).
fn lookup(paths: &HashMap<String, PathBuf>, path: &str) -> Option<(PathBuf, String)> {
    let trimmed = path.trim_end_matches('/');
    let mut tokens: Vec<&str> = trimmed.split('/').collect();
    let mut suffix: Vec<&str> = Vec::new();
    while !tokens.is_empty() {
        let prefix = tokens.join("/");
        if let Some(real) = paths.get(&prefix) {
            suffix.reverse();
            return Some((real.clone(), suffix.join("/")));
        }
        if let Some(last) = tokens.pop() {
            suffix.push(last);
        }
    }
    None
}

/// The real path a looked-up virtual path names: `Ok(None)` when nothing
/// is there, `Invalid` when it leaves the attached directory.
fn resolve(found: Option<(PathBuf, String)>, path: &str) -> Result<Option<PathBuf>> {
    let Some((root, suffix)) = found else {
        return Ok(None);
    };
    if !root.is_dir() {
        // A suffix below an attached file names nothing.
        return Ok(suffix.is_empty().then_some(root));
    }
    let joined = if suffix.is_empty() {
        root.clone()
    } else {
        root.join(&suffix)
    };
    match std::fs::canonicalize(&joined) {
        Ok(real) if real.starts_with(&root) => Ok(Some(real)),
        Ok(_) => Err(FilesError::Invalid(format!(
            "'{}' is inaccessible.\n",
            joined.display()
        ))),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Ok(None)
        }
        Err(e) => Err(FilesError::Invalid(format!(
            "Failed to determine canonical path of '{}': {e}.\n",
            joined.display()
        ))),
    }
    .map_err(|error| {
        tracing::debug!(path, %error, "Refused a files path");
        error
    })
}

/// Lists a directory; a file lists as nothing, as upstream's `os::ls`
/// fails on it.
fn browse(found: Option<(PathBuf, String)>, path: &str) -> Result<Vec<FileInfo>> {
    let Some(real) = resolve(found, path)? else {
        return Err(FilesError::NotFound(String::new()));
    };
    let mut entries = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(&real) {
        for entry in dir.flatten() {
            let full = entry.path();
            // `stat`, not `lstat`: a symlink shows as what it points to.
            let Ok(metadata) = std::fs::metadata(&full) else {
                tracing::warn!(path = %full.display(), "Found in a listing but stat failed");
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let virtual_path = format!("{}/{name}", path.trim_end_matches('/'));
            entries.insert(full, file_info(virtual_path, &metadata));
        }
    }
    Ok(entries.into_values().collect())
}

fn read(
    found: Option<(PathBuf, String)>,
    path: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<(u64, Vec<u8>)> {
    let Some(real) = resolve(found, path)? else {
        return Err(FilesError::NotFound(String::new()));
    };
    if real.is_dir() {
        return Err(FilesError::Invalid("Cannot read a directory.\n".into()));
    }
    let open_error = |e: std::io::Error| {
        let message = format!("Failed to open file at '{}': {e}", real.display());
        tracing::warn!(%message, "Failed to read a file");
        FilesError::Unknown(format!("{message}.\n"))
    };
    let mut file = std::fs::File::open(&real).map_err(open_error)?;
    let size = file.seek(SeekFrom::End(0)).map_err(open_error)?;
    if offset >= size {
        return Ok((size, Vec::new()));
    }
    let length = length.unwrap_or(size - offset);
    if length == 0 {
        return Ok((size, Vec::new()));
    }
    let length = length.min(max_read_length());
    file.seek(SeekFrom::Start(offset)).map_err(|e| {
        FilesError::Unknown(format!("Failed to seek file at '{}': {e}", real.display()))
    })?;
    let mut data = Vec::new();
    file.take(length).read_to_end(&mut data).map_err(|e| {
        FilesError::Unknown(format!("Failed to read file at '{}': {e}", real.display()))
    })?;
    Ok((size, data))
}

/// Upstream `protobuf::createFileInfo`.
fn file_info(path: String, metadata: &std::fs::Metadata) -> FileInfo {
    FileInfo {
        path,
        nlink: Some(i32::try_from(metadata.nlink()).unwrap_or(i32::MAX)),
        size: Some(metadata.size()),
        mtime: Some(TimeInfo {
            nanoseconds: metadata.mtime().saturating_mul(1_000_000_000),
        }),
        mode: Some(metadata.mode()),
        uid: Some(user_name(metadata.uid())),
        gid: Some(group_name(metadata.gid())),
    }
}

/// The user's name, or the number when it has none.
fn user_name(uid: u32) -> String {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `passwd` is a plain C struct for which all zeroes is valid.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buffer.len()` is the
    // buffer's size; on success `result` points at `entry`, whose strings
    // live in `buffer`.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || entry.pw_name.is_null() {
        return uid.to_string();
    }
    // SAFETY: `pw_name` is a NUL-terminated string inside `buffer`, which
    // outlives this borrow.
    unsafe { CStr::from_ptr(entry.pw_name) }
        .to_string_lossy()
        .into_owned()
}

/// The group's name, or the number when it has none.
fn group_name(gid: u32) -> String {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `group` is a plain C struct for which all zeroes is valid.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `user_name`.
    let rc = unsafe {
        libc::getgrgid_r(
            gid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || entry.gr_name.is_null() {
        return gid.to_string();
    }
    // SAFETY: `gr_name` is a NUL-terminated string inside `buffer`, which
    // outlives this borrow.
    unsafe { CStr::from_ptr(entry.gr_name) }
        .to_string_lossy()
        .into_owned()
}

/// `ls -l`'s mode column (upstream `model(FileInfo)`: the type, then
/// owner, group and other `rwx`; set-id and sticky bits are not shown).
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & libc::S_IFMT {
        libc::S_IFDIR => 'd',
        libc::S_IFCHR => 'c',
        libc::S_IFBLK => 'b',
        libc::S_IFIFO => 'p',
        libc::S_IFLNK => 'l',
        libc::S_IFSOCK => 's',
        _ => '-',
    };
    let mut out = String::with_capacity(10);
    out.push(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        out.push(if bits & 0o4 != 0 { 'r' } else { '-' });
        out.push(if bits & 0o2 != 0 { 'w' } else { '-' });
        out.push(if bits & 0o1 != 0 { 'x' } else { '-' });
    }
    out
}

/// Upstream `model(FileInfo)`: a sorted JSON object.
pub fn file_info_json(info: &FileInfo) -> Value {
    let mut o = Map::new();
    o.insert("gid".into(), info.gid.clone().unwrap_or_default().into());
    o.insert("mode".into(), mode_string(info.mode.unwrap_or(0)).into());
    let nanos = info.mtime.as_ref().map_or(0, |t| t.nanoseconds);
    o.insert("mtime".into(), dbl(nanos as f64 / 1e9));
    o.insert("nlink".into(), info.nlink.unwrap_or(0).into());
    o.insert("path".into(), info.path.clone().into());
    o.insert("size".into(), info.size.unwrap_or(0).into());
    o.insert("uid".into(), info.uid.clone().unwrap_or_default().into());
    Value::Object(o)
}

/// Upstream's `mime::types` (Python's `mimetypes` table), by extension.
const MIME_TYPES: &[(&str, &str)] = &[
    ("a", "application/octet-stream"),
    ("ai", "application/postscript"),
    ("aif", "audio/x-aiff"),
    ("aifc", "audio/x-aiff"),
    ("aiff", "audio/x-aiff"),
    ("au", "audio/basic"),
    ("avi", "video/x-msvideo"),
    ("bat", "text/plain"),
    ("bcpio", "application/x-bcpio"),
    ("bin", "application/octet-stream"),
    ("bmp", "image/x-ms-bmp"),
    ("c", "text/plain"),
    ("cdf", "application/x-netcdf"),
    ("cpio", "application/x-cpio"),
    ("csh", "application/x-csh"),
    ("css", "text/css"),
    ("dll", "application/octet-stream"),
    ("doc", "application/msword"),
    ("dot", "application/msword"),
    ("dvi", "application/x-dvi"),
    ("eml", "message/rfc822"),
    ("eps", "application/postscript"),
    ("etx", "text/x-setext"),
    ("exe", "application/octet-stream"),
    ("gif", "image/gif"),
    ("gtar", "application/x-gtar"),
    ("h", "text/plain"),
    ("hdf", "application/x-hdf"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("ief", "image/ief"),
    ("jpe", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "application/x-javascript"),
    ("ksh", "text/plain"),
    ("latex", "application/x-latex"),
    ("m1v", "video/mpeg"),
    ("man", "application/x-troff-man"),
    ("me", "application/x-troff-me"),
    ("mht", "message/rfc822"),
    ("mhtml", "message/rfc822"),
    ("mif", "application/x-mif"),
    ("mov", "video/quicktime"),
    ("movie", "video/x-sgi-movie"),
    ("mp2", "audio/mpeg"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("mpa", "video/mpeg"),
    ("mpe", "video/mpeg"),
    ("mpeg", "video/mpeg"),
    ("mpg", "video/mpeg"),
    ("ms", "application/x-troff-ms"),
    ("nc", "application/x-netcdf"),
    ("nws", "message/rfc822"),
    ("o", "application/octet-stream"),
    ("obj", "application/octet-stream"),
    ("oda", "application/oda"),
    ("p12", "application/x-pkcs12"),
    ("p7c", "application/pkcs7-mime"),
    ("pbm", "image/x-portable-bitmap"),
    ("pdf", "application/pdf"),
    ("pfx", "application/x-pkcs12"),
    ("pgm", "image/x-portable-graymap"),
    ("pl", "text/plain"),
    ("png", "image/png"),
    ("pnm", "image/x-portable-anymap"),
    ("pot", "application/vnd.ms-powerpoint"),
    ("ppa", "application/vnd.ms-powerpoint"),
    ("ppm", "image/x-portable-pixmap"),
    ("pps", "application/vnd.ms-powerpoint"),
    ("ppt", "application/vnd.ms-powerpoint"),
    ("ps", "application/postscript"),
    ("pwz", "application/vnd.ms-powerpoint"),
    ("py", "text/x-python"),
    ("pyc", "application/x-python-code"),
    ("pyo", "application/x-python-code"),
    ("qt", "video/quicktime"),
    ("ra", "audio/x-pn-realaudio"),
    ("ram", "application/x-pn-realaudio"),
    ("ras", "image/x-cmu-raster"),
    ("rdf", "application/xml"),
    ("rgb", "image/x-rgb"),
    ("roff", "application/x-troff"),
    ("rtx", "text/richtext"),
    ("sgm", "text/x-sgml"),
    ("sgml", "text/x-sgml"),
    ("sh", "application/x-sh"),
    ("shar", "application/x-shar"),
    ("snd", "audio/basic"),
    ("so", "application/octet-stream"),
    ("src", "application/x-wais-source"),
    ("sv4cpio", "application/x-sv4cpio"),
    ("sv4crc", "application/x-sv4crc"),
    ("swf", "application/x-shockwave-flash"),
    ("t", "application/x-troff"),
    ("tar", "application/x-tar"),
    ("tcl", "application/x-tcl"),
    ("tex", "application/x-tex"),
    ("texi", "application/x-texinfo"),
    ("texinfo", "application/x-texinfo"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("tr", "application/x-troff"),
    ("tsv", "text/tab-separated-values"),
    ("txt", "text/plain"),
    ("ustar", "application/x-ustar"),
    ("vcf", "text/x-vcard"),
    ("wav", "audio/x-wav"),
    ("wiz", "application/msword"),
    ("wsdl", "application/xml"),
    ("xbm", "image/x-xbitmap"),
    ("xlb", "application/vnd.ms-excel"),
    ("xls", "application/vnd.ms-excel"),
    ("xml", "text/xml"),
    ("xpdl", "application/xml"),
    ("xpm", "image/x-xpixmap"),
    ("xsl", "application/xml"),
    ("xwd", "image/x-xwindowdump"),
    ("zip", "application/zip"),
];

/// The download's `Content-Type`: by the basename's extension, else
/// `application/octet-stream`.
pub fn mime_type(basename: &str) -> &'static str {
    basename
        .rsplit_once('.')
        .and_then(|(_, extension)| {
            MIME_TYPES
                .binary_search_by(|(known, _)| known.cmp(&extension))
                .ok()
        })
        .map_or("application/octet-stream", |index| MIME_TYPES[index].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_table_is_sorted_and_found_by_extension() {
        assert!(MIME_TYPES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(mime_type("stdout"), "application/octet-stream");
        assert_eq!(mime_type("a.txt"), "text/plain");
        assert_eq!(mime_type("x.tar.gz"), "application/octet-stream");
        assert_eq!(mime_type("page.html"), "text/html");
    }

    #[test]
    fn modes_print_as_ls_does() {
        assert_eq!(mode_string(libc::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(libc::S_IFREG | 0o640), "-rw-r-----");
        assert_eq!(mode_string(libc::S_IFLNK | 0o777), "lrwxrwxrwx");
        assert_eq!(mode_string(libc::S_IFREG | 0o4755), "-rwxr-xr-x");
    }

    #[test]
    fn lookup_takes_the_longest_attached_prefix() {
        let mut paths = HashMap::new();
        paths.insert("/a".to_string(), PathBuf::from("/real/a"));
        paths.insert("/a/b".to_string(), PathBuf::from("/real/b"));
        assert_eq!(
            lookup(&paths, "/a/b/c/d"),
            Some((PathBuf::from("/real/b"), "c/d".into()))
        );
        assert_eq!(
            lookup(&paths, "/a/x/"),
            Some((PathBuf::from("/real/a"), "x".into()))
        );
        assert_eq!(
            lookup(&paths, "/a/b"),
            Some((PathBuf::from("/real/b"), String::new()))
        );
        assert_eq!(lookup(&paths, "/z"), None);
        assert_eq!(lookup(&paths, "/ab"), None);
    }

    #[test]
    fn paths_may_not_leave_their_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("file"), b"x").unwrap();
        std::fs::write(root.parent().unwrap().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink("../secret", root.join("link")).unwrap();
        let found = |suffix: &str| Some((root.clone(), suffix.to_string()));
        assert_eq!(
            resolve(found("file"), "v").unwrap(),
            Some(root.join("file"))
        );
        assert_eq!(resolve(found("missing"), "v").unwrap(), None);
        assert_eq!(resolve(found("file/below"), "v").unwrap(), None);
        assert!(matches!(
            resolve(found("../secret"), "v"),
            Err(FilesError::Invalid(_))
        ));
        assert!(matches!(
            resolve(found("link"), "v"),
            Err(FilesError::Invalid(_))
        ));
        // An attached file has no entries below it.
        let file = Some((root.join("file"), "x".to_string()));
        assert_eq!(resolve(file, "v").unwrap(), None);
    }

    #[test]
    fn reads_are_capped_and_past_the_end_read_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let big = vec![b'x'; usize::try_from(max_read_length()).unwrap() + 10];
        std::fs::write(root.join("big"), &big).unwrap();
        let found = || Some((root.clone(), "big".to_string()));
        let (size, data) = read(found(), "v", 0, None).unwrap();
        assert_eq!(size, big.len() as u64);
        assert_eq!(data.len() as u64, max_read_length());
        let (_, data) = read(found(), "v", size - 3, Some(100)).unwrap();
        assert_eq!(data, b"xxx");
        assert_eq!(read(found(), "v", size + 5, None).unwrap(), (size, vec![]));
        assert_eq!(read(found(), "v", 0, Some(0)).unwrap(), (size, vec![]));
        let dir = Some((root.clone(), String::new()));
        assert_eq!(
            read(dir, "v", 0, None),
            Err(FilesError::Invalid("Cannot read a directory.\n".into()))
        );
    }
}
