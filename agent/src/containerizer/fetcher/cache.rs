//! The fetcher cache's bookkeeping (upstream `FetcherProcess::Cache` in
//! `src/slave/containerizer/fetcher.cpp`; `docs/fetcher-cache-internals.md`).
//!
//! A table of entries keyed by `user@uri` (or the URI alone without a
//! user), each naming a file in the cache directory (`c<serial>-<some of
//! the basename>`, the extension kept so extraction by suffix works on
//! the cache file), with the space it claims, how many fetches use it
//! right now and whether its download is still running. Entries are kept
//! in least-recently-used order; making room evicts unreferenced,
//! complete entries from the front.
//!
//! Pure data: the [`FetcherProcess`](super::FetcherProcess) owns it and
//! deletes the files this returns, off the actor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokio::sync::oneshot;

/// The prefix of every cache file name.
pub const CACHE_FILE_NAME_PREFIX: &str = "c";

/// One cached URI.
#[derive(Debug)]
pub struct Entry {
    /// The file's name in the cache directory.
    pub filename: String,
    /// The cache directory (per agent and user).
    pub directory: PathBuf,
    /// The space claimed for it (0 until reserved).
    pub size: u64,
    /// Fetches using it now; a referenced entry is never evicted.
    pub references: usize,
    /// Whether its download finished.
    pub complete: bool,
    /// Fetches waiting for the download: told `true` once it is in the
    /// cache, `false` when it failed (they then bypass the cache).
    waiters: Vec<oneshot::Sender<bool>>,
}

/// The cache table and its space accounting.
#[derive(Debug)]
pub struct Cache {
    space: u64,
    tally: u64,
    serial: u64,
    entries: HashMap<String, Entry>,
    /// Keys, least recently used first.
    lru: Vec<String>,
}

/// The cache key of a URI fetched for `user` (upstream `cacheKey`).
pub fn key(user: Option<&str>, uri: &str) -> String {
    match user {
        Some(user) => format!("{user}@{uri}"),
        None => uri.to_string(),
    }
}

impl Cache {
    /// An empty cache of `space` bytes.
    pub fn new(space: u64) -> Self {
        Self {
            space,
            tally: 0,
            serial: 0,
            entries: HashMap::new(),
            lru: Vec::new(),
        }
    }

    /// The bytes not yet claimed.
    pub fn available(&self) -> u64 {
        self.space.saturating_sub(self.tally)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `key`, refreshed as most recently used.
    pub fn get(&mut self, key: &str) -> Option<&mut Entry> {
        if self.entries.contains_key(key) {
            self.touch(key);
        }
        self.entries.get_mut(key)
    }

    /// Creates a pending entry for `key` in `directory`, referenced
    /// once; returns its file name, made from `basename`.
    pub fn create(&mut self, key: &str, basename: &str, directory: &Path) -> String {
        self.serial += 1;
        // A prefix and a suffix of a long basename: enough for an
        // operator to recognise it, the extension kept.
        let chars: Vec<char> = basename.chars().collect();
        let short = if chars.len() > 20 {
            let head: String = chars[..10].iter().collect();
            let tail: String = chars[chars.len() - 10..].iter().collect();
            format!("{head}_{tail}")
        } else {
            basename.to_string()
        };
        let filename = format!("{CACHE_FILE_NAME_PREFIX}{}-{short}", self.serial);
        self.entries.insert(
            key.to_string(),
            Entry {
                filename: filename.clone(),
                directory: directory.to_path_buf(),
                size: 0,
                references: 1,
                complete: false,
                waiters: Vec::new(),
            },
        );
        self.lru.retain(|k| k != key);
        self.lru.push(key.to_string());
        filename
    }

    /// Registers a fetch waiting for the pending download of `key`.
    pub fn wait(&mut self, key: &str) -> Option<oneshot::Receiver<bool>> {
        let entry = self.entries.get_mut(key)?;
        let (tx, rx) = oneshot::channel();
        entry.waiters.push(tx);
        Some(rx)
    }

    /// Makes room for `bytes` and claims it for `key`: evicts
    /// unreferenced complete entries, least recently used first. Returns
    /// the files of the evicted entries (to delete).
    pub fn reserve(&mut self, key: &str, bytes: u64) -> Result<Vec<PathBuf>, String> {
        let mut evicted = Vec::new();
        if self.available() < bytes {
            let missing = bytes - self.available();
            let mut victims = Vec::new();
            let mut freed = 0;
            for candidate in &self.lru {
                let Some(entry) = self.entries.get(candidate) else {
                    continue;
                };
                if entry.references == 0 && entry.complete {
                    victims.push(candidate.clone());
                    freed += entry.size;
                    if freed >= missing {
                        break;
                    }
                }
            }
            if freed < missing {
                return Err("Could not find enough cache files to evict".into());
            }
            for victim in victims {
                if let Some(filename) = self.remove(&victim) {
                    evicted.push(filename);
                }
            }
        }
        let Some(entry) = self.entries.get_mut(key) else {
            return Err(format!("no cache entry for '{key}'"));
        };
        entry.size = bytes;
        self.tally += bytes;
        Ok(evicted)
    }

    /// Corrects the space of `key` to what its download really took.
    pub fn adjust(&mut self, key: &str, actual: u64) {
        if let Some(entry) = self.entries.get_mut(key) {
            self.tally = self.tally.saturating_sub(entry.size) + actual;
            entry.size = actual;
        }
    }

    /// Marks the download of `key` complete and tells its waiters.
    pub fn complete(&mut self, key: &str) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.complete = true;
            for waiter in entry.waiters.drain(..) {
                let _ = waiter.send(true);
            }
        }
    }

    /// Drops one reference to `key`.
    pub fn unreference(&mut self, key: &str) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.references = entry.references.saturating_sub(1);
        }
    }

    /// Removes `key` (a failed download, or an eviction), releasing its
    /// space and failing its waiters; returns its file to delete.
    pub fn remove(&mut self, key: &str) -> Option<PathBuf> {
        let entry = self.entries.remove(key)?;
        self.lru.retain(|k| k != key);
        self.tally = self.tally.saturating_sub(entry.size);
        for waiter in entry.waiters {
            let _ = waiter.send(false);
        }
        Some(entry.directory.join(entry.filename))
    }

    fn touch(&mut self, key: &str) {
        self.lru.retain(|k| k != key);
        self.lru.push(key.to_string());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn cached(cache: &mut Cache, key: &str, size: u64) -> Result<Vec<PathBuf>, String> {
        cache.create(key, "file.tar.gz", Path::new("/cache"));
        let evicted = cache.reserve(key, size)?;
        cache.complete(key);
        cache.unreference(key);
        Ok(evicted)
    }

    #[test]
    fn file_names_keep_the_extension_and_are_unique() {
        let mut cache = Cache::new(100);
        assert_eq!(cache.create("a", "x.tgz", Path::new("/c")), "c1-x.tgz");
        assert_eq!(
            cache.create("b", "a-very-long-file-name-indeed.tar.gz", Path::new("/c")),
            "c2-a-very-lon_eed.tar.gz"
        );
    }

    #[test]
    fn eviction_takes_the_least_recently_used_first() {
        let mut cache = Cache::new(100);
        cached(&mut cache, "a", 40).unwrap();
        cached(&mut cache, "b", 40).unwrap();
        // `a` used again: `b` is now the oldest.
        assert!(cache.get("a").is_some());
        let evicted = cached(&mut cache, "c", 40).unwrap();
        assert_eq!(evicted, vec![PathBuf::from("/cache/c2-file.tar.gz")]);
        assert!(cache.get("b").is_none());
        assert_eq!(cache.available(), 20);
    }

    #[test]
    fn referenced_entries_are_never_evicted() {
        let mut cache = Cache::new(100);
        cache.create("a", "a", Path::new("/c"));
        cache.reserve("a", 80).unwrap();
        cache.complete("a");
        cache.create("b", "b", Path::new("/c"));
        let error = cache.reserve("b", 40).unwrap_err();
        assert_eq!(error, "Could not find enough cache files to evict");
        cache.unreference("a");
        assert_eq!(
            cache.reserve("b", 40).unwrap(),
            vec![PathBuf::from("/c/c1-a")]
        );
    }

    #[test]
    fn removal_releases_space_and_fails_waiters() {
        let mut cache = Cache::new(100);
        cache.create("a", "a", Path::new("/c"));
        cache.reserve("a", 60).unwrap();
        let mut waiter = cache.wait("a").unwrap();
        assert_eq!(cache.remove("a"), Some(PathBuf::from("/c/c1-a")));
        assert_eq!(waiter.try_recv(), Ok(false));
        assert_eq!(cache.available(), 100);
        assert!(cache.is_empty());
    }

    #[test]
    fn adjust_corrects_the_claimed_space() {
        let mut cache = Cache::new(100);
        cache.create("a", "a", Path::new("/c"));
        cache.reserve("a", 60).unwrap();
        cache.adjust("a", 10);
        assert_eq!(cache.available(), 90);
        assert_eq!(key(Some("alice"), "http://h/f"), "alice@http://h/f");
    }
}
