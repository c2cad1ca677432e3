//! The `files` process over real HTTP on a real command task's sandbox:
//! `/files/debug`, `/files/browse`, `/files/read`, `/files/download`,
//! their JSON and upstream's errors (`src/files/files.cpp`,
//! `src/tests/files_tests.cpp`).

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use serde_json::Value;

use support::sandbox::{encode, get, launch, require_executor, Cluster, DATA};

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

async fn read(cluster: &Cluster, query: &str) -> support::sandbox::Reply {
    get(cluster.addr, &format!("/files/read?{query}")).await
}

#[actix_rt::test]
async fn files_endpoints_serve_a_running_tasks_sandbox() {
    if !require_executor() {
        return;
    }
    let cluster = launch("files-task").await;
    let addr = cluster.addr;
    let sandbox = cluster.sandbox();

    // --- /files/debug: the three names of the sandbox -----------------------
    let debug = get(addr, "/files/debug").await.json();
    let run_dir = std::fs::canonicalize(
        cluster
            .work_dir
            .path()
            .join("slaves")
            .join(&cluster.slave_id)
            .join("frameworks")
            .join(&cluster.framework_id)
            .join("executors")
            .join(&cluster.task_id)
            .join("runs"),
    )
    .unwrap();
    let debug = debug.as_object().unwrap();
    assert_eq!(debug.len(), 3, "{debug:?}");
    let real = debug[&sandbox].as_str().unwrap().to_string();
    assert!(real.starts_with(&run_dir.display().to_string()), "{real}");
    let runs = cluster
        .work_dir
        .path()
        .join("slaves")
        .join(&cluster.slave_id)
        .join("frameworks")
        .join(&cluster.framework_id)
        .join("executors")
        .join(&cluster.task_id)
        .join("runs");
    let latest = runs.join("latest").display().to_string();
    assert_eq!(debug[&latest], real.as_str());
    let own = debug
        .keys()
        .find(|k| *k != &sandbox && *k != &latest)
        .unwrap();
    assert!(own.starts_with(&runs.display().to_string()), "{own}");
    assert_eq!(debug[own], real.as_str());
    // The upstream 0.x alias answers the same.
    assert_eq!(
        get(addr, "/files/debug.json")
            .await
            .json()
            .as_object()
            .unwrap(),
        debug
    );

    // --- /files/browse -------------------------------------------------------
    let reply = get(addr, &format!("/files/browse?path={}", encode(&sandbox))).await;
    let listing = reply.json();
    let entries = listing.as_array().unwrap();
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(paths, sorted, "sorted by path");
    for name in ["data.txt", "escape", "stderr", "stdout"] {
        assert!(
            paths.contains(&format!("{sandbox}/{name}").as_str()),
            "{name} in {paths:?}"
        );
    }
    let data = entries
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with("/data.txt"))
        .unwrap();
    assert_eq!(
        keys(data),
        ["gid", "mode", "mtime", "nlink", "path", "size", "uid"]
    );
    assert_eq!(data["size"], DATA.len());
    assert_eq!(data["nlink"], 1);
    let mode = data["mode"].as_str().unwrap();
    assert_eq!(mode.len(), 10);
    assert!(mode.starts_with("-rw"), "{mode}");
    // A double, as upstream's `Nanoseconds::secs()`.
    assert!(data["mtime"].as_number().unwrap().is_f64(), "{data}");
    let mtime = data["mtime"].as_f64().unwrap();
    assert!(mtime > 1e9 && mtime <= libprocess::clock::now_secs() + 1.0);
    assert!(!data["uid"].as_str().unwrap().is_empty());
    assert!(!data["gid"].as_str().unwrap().is_empty());
    // `escape` points at `/`: a directory, as `stat` sees it.
    let escape = entries
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with("/escape"))
        .unwrap();
    assert!(escape["mode"].as_str().unwrap().starts_with('d'));
    // The same listing through the real paths and with a trailing slash.
    let by_real = get(addr, &format!("/files/browse?path={}", encode(&latest)))
        .await
        .json();
    assert_eq!(by_real.as_array().unwrap().len(), entries.len());
    let slash = get(addr, &format!("/files/browse?path={}/", encode(&sandbox)))
        .await
        .json();
    assert_eq!(slash.as_array().unwrap().len(), entries.len());
    // A file lists as nothing; jsonp wraps.
    let file = get(addr, &format!("/files/browse?path={sandbox}/data.txt")).await;
    assert_eq!(file.json(), Value::Array(vec![]));
    let wrapped = get(addr, &format!("/files/browse?path={sandbox}&jsonp=cb")).await;
    assert!(wrapped.text().starts_with("cb(["), "{}", wrapped.text());

    // --- /files/read ---------------------------------------------------------
    let path = format!("path={sandbox}/data.txt");
    let reply = read(&cluster, &format!("{path}&offset=0&length=4")).await;
    assert_eq!(reply.text(), r#"{"data":"0123","offset":0}"#);
    let reply = read(&cluster, &format!("{path}&offset=8")).await;
    assert_eq!(reply.text(), r#"{"data":"89","offset":8}"#);
    // The pager's first question: the size, no data.
    for query in [format!("{path}&offset=-1"), path.clone()] {
        let reply = read(&cluster, &query).await;
        assert_eq!(reply.json(), serde_json::json!({"data": "", "offset": 10}));
    }
    // `length=-1` is no length.
    let reply = read(&cluster, &format!("{path}&offset=3&length=-1")).await;
    assert_eq!(reply.text(), r#"{"data":"3456789","offset":3}"#);
    // Past the end: nothing, at the offset asked for.
    let reply = read(&cluster, &format!("{path}&offset=20")).await;
    assert_eq!(reply.text(), r#"{"data":"","offset":20}"#);
    let stdout = read(&cluster, &format!("path={sandbox}/stdout&offset=0")).await;
    assert!(
        stdout.json()["data"]
            .as_str()
            .unwrap()
            .contains("hello-sandbox"),
        "{}",
        stdout.text()
    );

    // Upstream's refusals.
    for (query, status, body) in [
        (
            "offset=0".to_string(),
            400,
            "Expecting 'path=value' in query.\n",
        ),
        (
            "path=&offset=0".to_string(),
            400,
            "Expecting 'path=value' in query.\n",
        ),
        (
            format!("{path}&offset=abc"),
            400,
            "Failed to parse offset: Failed to convert 'abc' to number.\n",
        ),
        (
            format!("{path}&offset=-2"),
            400,
            "Negative offset provided: -2.\n",
        ),
        (
            format!("{path}&offset=0&length=-5"),
            400,
            "Negative length provided: -5.\n",
        ),
        (
            format!("path={sandbox}&offset=0"),
            400,
            "Cannot read a directory.\n",
        ),
        (format!("path={sandbox}/nope&offset=0"), 404, ""),
        ("path=/not/attached&offset=0".to_string(), 404, ""),
    ] {
        let reply = read(&cluster, &query).await;
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (status, body),
            "{query}"
        );
    }
    // Leaving the sandbox, by `..` or through a symlink, is refused.
    for escape in ["..", "../..", "escape/etc", "escape"] {
        let query = format!("path={}&offset=0", encode(&format!("{sandbox}/{escape}")));
        let reply = read(&cluster, &query).await;
        assert_eq!(reply.status, 400, "{escape}: {}", reply.text());
        assert!(
            reply.text().ends_with("' is inaccessible.\n"),
            "{escape}: {}",
            reply.text()
        );
        let browse = get(addr, &format!("/files/browse?{query}")).await;
        assert_eq!(browse.status, 400, "{escape}: {}", browse.text());
        let download = get(addr, &format!("/files/download?{query}")).await;
        assert_eq!(download.status, 400, "{escape}: {}", download.text());
    }

    // --- /files/download -----------------------------------------------------
    let reply = get(addr, &format!("/files/download?path={sandbox}/data.txt")).await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert_eq!(reply.body, DATA.as_bytes());
    assert_eq!(reply.header("Content-Type").as_deref(), Some("text/plain"));
    assert_eq!(
        reply.header("Content-Disposition").as_deref(),
        Some("attachment; filename=data.txt")
    );
    let reply = get(addr, &format!("/files/download?path={sandbox}/stdout")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Type").as_deref(),
        Some("application/octet-stream")
    );
    assert!(reply.text().contains("hello-sandbox"));
    for (query, status, body) in [
        (String::new(), 400, "Expecting 'path=value' in query.\n"),
        (
            format!("path={sandbox}"),
            400,
            "Cannot download a directory.\n",
        ),
        (format!("path={sandbox}/nope"), 404, ""),
    ] {
        let reply = get(addr, &format!("/files/download?{query}")).await;
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (status, body),
            "{query}"
        );
    }
    let browse = get(addr, "/files/browse?path=/frameworks/nope").await;
    assert_eq!(browse.status, 404);
}
