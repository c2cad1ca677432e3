//! Outbound connections: one per peer address, shared by every local
//! process, as upstream's `SocketManager`.
//!
//! A connection is opened by the first send or link to an address and kept
//! open. Whatever the peer writes back (202s, or nothing from 1.2/1.3
//! peers) is read and discarded so the peer never blocks. When the
//! connection fails to open or closes, every local process linked to any
//! process at that address gets [`Event::Exited`]; messages still queued
//! for it are dropped, as upstream drops them. `relink` replaces the
//! connection without reporting the old one as exited.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::process::Event;
use crate::runtime::{Runtime, WeakRuntime};
use crate::UPID;

/// Bytes gathered into one write when messages queue up.
const MAX_BATCH: usize = 256 * 1024;

struct Connection {
    tx: mpsc::UnboundedSender<Bytes>,
    generation: u64,
}

/// Remote process → ids of the local processes linked to it.
type Linkers = HashMap<UPID, HashSet<Arc<str>>>;

#[derive(Default)]
pub(crate) struct SocketManager {
    connections: Mutex<HashMap<SocketAddrV4, Connection>>,
    /// Links by peer address.
    links: Mutex<HashMap<SocketAddrV4, Linkers>>,
    generation: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl SocketManager {
    /// Queues `bytes` on the connection to `addr`, opening it if needed.
    pub(crate) fn send(&self, runtime: &Runtime, addr: SocketAddrV4, bytes: Bytes) {
        let mut connections = lock(&self.connections);
        if let Some(connection) = connections.get(&addr) {
            if let Err(mpsc::error::SendError(bytes)) = connection.tx.send(bytes) {
                let connection = self.connect(runtime, addr);
                let _ = connection.tx.send(bytes);
                connections.insert(addr, connection);
            }
        } else {
            let connection = self.connect(runtime, addr);
            let _ = connection.tx.send(bytes);
            connections.insert(addr, connection);
        }
    }

    /// Links local process `linker` to remote `to`.
    pub(crate) fn link(&self, runtime: &Runtime, linker: &Arc<str>, to: &UPID, reconnect: bool) {
        let addr = to.address();
        lock(&self.links)
            .entry(addr)
            .or_default()
            .entry(to.clone())
            .or_default()
            .insert(linker.clone());
        let mut connections = lock(&self.connections);
        let alive = connections.get(&addr).is_some_and(|c| !c.tx.is_closed());
        if reconnect || !alive {
            // The replaced connection's end is not reported: its generation
            // no longer matches.
            let connection = self.connect(runtime, addr);
            connections.insert(addr, connection);
        }
    }

    /// Drops every outbound connection (runtime shutdown).
    pub(crate) fn close_all(&self) {
        lock(&self.connections).clear();
        lock(&self.links).clear();
    }

    fn connect(&self, runtime: &Runtime, addr: SocketAddrV4) -> Connection {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        runtime
            .inner
            .io
            .spawn(run(runtime.downgrade(), addr, generation, rx));
        Connection { tx, generation }
    }

    /// Forgets connection `generation` to `addr` and reports its end to the
    /// processes linked to that address.
    fn disconnected(&self, runtime: &Runtime, addr: SocketAddrV4, generation: u64) {
        {
            let mut connections = lock(&self.connections);
            match connections.get(&addr) {
                Some(c) if c.generation == generation => {
                    connections.remove(&addr);
                }
                // Replaced (relink) or already gone: nothing to report.
                _ => return,
            }
        }
        let linked = lock(&self.links).remove(&addr).unwrap_or_default();
        for (remote, linkers) in linked {
            for linker in linkers {
                runtime.deliver(&linker, Event::Exited(remote.clone()));
            }
        }
    }
}

async fn run(
    runtime: WeakRuntime,
    addr: SocketAddrV4,
    generation: u64,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
) {
    match TcpStream::connect(addr).await {
        Ok(stream) => {
            let _ = stream.set_nodelay(true);
            pump(stream, &mut rx).await;
        }
        Err(error) => {
            tracing::debug!(%addr, %error, "Failed to connect");
        }
    }
    rx.close();
    if let Some(runtime) = runtime.upgrade() {
        runtime
            .inner
            .sockets
            .disconnected(&runtime, addr, generation);
    }
}

/// Writes queued messages, batching what has accumulated, and discards
/// whatever the peer sends, until either side closes.
async fn pump(stream: TcpStream, rx: &mut mpsc::UnboundedReceiver<Bytes>) {
    let (mut reader, mut writer) = stream.into_split();
    let mut discard = vec![0u8; 8 * 1024];
    let mut batch = BytesMut::with_capacity(16 * 1024);
    loop {
        tokio::select! {
            message = rx.recv() => {
                let Some(message) = message else {
                    return;
                };
                batch.extend_from_slice(&message);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(more) => batch.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                if writer.write_all(&batch).await.is_err() {
                    return;
                }
                batch.clear();
            }
            read = reader.read(&mut discard) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
            }
        }
    }
}
