//! The fetcher (issue #6's benchmark): a 100 MB URI served over HTTP on
//! loopback by a thread of this process, fetched into a sandbox through
//! the `Fetcher` actor and the `mesos-fetcher` helper: cold (a download),
//! then with `cache` set, the first fetch (a download into the cache and
//! a copy) and the next ones (a copy from the cache, no request).
//!
//! Run: `cargo build --release -p mesos-agent && cargo bench -p
//! mesos-agent --bench fetch [-- RUNS]` (default 5).

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesos_agent::containerizer::fetcher::{Fetcher, FetcherOptions};
use mesos_proto::mesos::command_info::Uri;
use mesos_proto::mesos::CommandInfo;

const SIZE: usize = 100 * 1024 * 1024;

fn serve(body: Arc<Vec<u8>>, requests: Arc<AtomicUsize>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let (body, requests) = (body.clone(), requests.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let mut head = true;
                let mut method = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    if head {
                        method = line.split_whitespace().next().unwrap_or("").to_string();
                        head = false;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                if method == "GET" {
                    requests.fetch_add(1, Ordering::SeqCst);
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                if method == "GET" {
                    let _ = stream.write_all(&body);
                }
            });
        }
    });
    format!("http://{address}/blob.bin")
}

fn p50(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let body: Vec<u8> = (0..SIZE).map(|i| (i * 7919 % 251) as u8).collect();
    let requests = Arc::new(AtomicUsize::new(0));
    let url = serve(Arc::new(body), requests.clone());
    let exe = std::env::current_exe().unwrap();
    let bin_dir: PathBuf = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let system = actix::System::new();
    system.block_on(async move {
        let cache = tempfile::tempdir().unwrap();
        let fetcher = Fetcher::start(
            FetcherOptions {
                cache_dir: cache.path().to_path_buf(),
                cache_size: 1 << 30,
                ..Default::default()
            },
            &bin_dir,
        );
        let command = |cached: bool| CommandInfo {
            uris: vec![Uri {
                value: url.clone(),
                cache: Some(cached),
                ..Default::default()
            }],
            ..Default::default()
        };
        let run = |cached: bool, id: String| {
            let fetcher = fetcher.clone();
            let command = command(cached);
            async move {
                let sandbox = tempfile::tempdir().unwrap();
                let start = Instant::now();
                fetcher
                    .fetch(&id, &command, sandbox.path(), None)
                    .await
                    .unwrap();
                let elapsed = start.elapsed();
                assert_eq!(
                    std::fs::metadata(sandbox.path().join("blob.bin"))
                        .unwrap()
                        .len(),
                    SIZE as u64
                );
                elapsed
            }
        };
        let mut cold = Vec::new();
        for i in 0..runs {
            cold.push(run(false, format!("cold{i}")).await);
        }
        let before = requests.load(Ordering::SeqCst);
        let first = run(true, "cache-first".into()).await;
        let mut cached = Vec::new();
        for i in 0..runs {
            cached.push(run(true, format!("cached{i}")).await);
        }
        let downloads = requests.load(Ordering::SeqCst) - before;
        println!(
            "fetch 100 MB over HTTP: cold p50 {:.0} ms ({runs} runs); cache: first {:.0} ms, \
             then p50 {:.0} ms; {downloads} download(s) for {} cached fetches",
            p50(cold),
            first.as_secs_f64() * 1000.0,
            p50(cached),
            runs + 1
        );
    });
}
