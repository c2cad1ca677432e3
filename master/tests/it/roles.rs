//! Roles and weights: `--roles`, `--weights`, `GET_ROLES`, `GET_WEIGHTS`,
//! `UPDATE_WEIGHTS`, `/master/roles` and `/master/weights`, over real HTTP.

use libprocess::Runtime;
use mesos_master::registrar::FileStore;
use mesos_proto::mesos::internal::{FrameworkErrorMessage, FrameworkRegisteredMessage};
use mesos_proto::mesos::FrameworkInfo;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::frameworks::{info, recv, spawn_scheduler, subscribe};
use crate::operator_api::api;
use crate::support::*;

async fn http(addr: std::net::SocketAddrV4, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), body.to_string())
}

async fn call(addr: std::net::SocketAddrV4, body: Value) -> (u16, Value) {
    let (status, body) = api(addr, &body.to_string(), "application/json").await;
    let value = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, value)
}

async fn weights(addr: std::net::SocketAddrV4) -> Value {
    let (status, body) = call(addr, json!({"type": "GET_WEIGHTS"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "GET_WEIGHTS");
    body["get_weights"]["weight_infos"].clone()
}

fn with_role(role: &str) -> FrameworkInfo {
    let mut framework = info(None, 0.0);
    #[allow(deprecated)]
    {
        framework.role = Some(role.into());
    }
    framework
}

#[actix_rt::test]
async fn roles_flag_refuses_frameworks_of_other_roles() {
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&["--roles=web,batch/night", "--weights=web=2.5"]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;

    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), with_role("db"), false);
    let error = recv(&mut rx).await;
    assert_eq!(error.name, "mesos.internal.FrameworkErrorMessage");
    assert_eq!(
        decode::<FrameworkErrorMessage>(&error).message,
        "Roles { db } are not present in the master's --roles"
    );

    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), with_role("web"), false);
    let framework_id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await)
        .framework_id
        .value;

    // Known roles are the listed ones, `*` and their ancestors.
    let (status, body) = call(runtime.address(), json!({"type": "GET_ROLES"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["get_roles"]["roles"],
        json!([
            {"name": "*", "weight": 1.0},
            {"name": "batch", "weight": 1.0},
            {"name": "batch/night", "weight": 1.0},
            {"name": "web", "weight": 2.5, "frameworks": [{"value": framework_id}]},
        ])
    );
    let (status, body) = http(runtime.address(), "GET", "/master/roles", "").await;
    assert_eq!(status, 200);
    let roles: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["*", "batch", "batch/night", "web"]);
    assert_eq!(roles["roles"][3]["weight"], json!(2.5));
    assert_eq!(roles["roles"][3]["frameworks"], json!([framework_id]));

    // Weights for roles outside --roles are refused.
    let (status, body) = call(
        runtime.address(),
        json!({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "db", "weight": 2.0}]}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        "Failed to validate update weights request JSON: Unknown role 'db'"
    );
}

async fn restart(
    runtime: &Runtime,
    dir: &std::path::Path,
    extra: &[&str],
) -> libprocess::PID<mesos_master::master::Master> {
    let work_dir = format!("--work_dir={}", dir.display());
    let mut args = vec!["--registry=replicated_log", work_dir.as_str()];
    args.extend_from_slice(extra);
    let master = start_master(runtime, flags(&args), Box::new(FileStore::new(dir)));
    recovered(&master).await;
    master
}

#[actix_rt::test]
async fn weights_are_updated_and_survive_a_master_restart() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let addr = runtime.address();
    let master = restart(&runtime, dir.path(), &["--weights=a=2.5"]).await;
    assert_eq!(weights(addr).await, json!([{"weight": 2.5, "role": "a"}]));

    // Bad updates are refused with upstream's messages.
    for (update, message) in [
        (
            json!([{"role": "b", "weight": 0.0}]),
            "Failed to validate update weights request JSON for role 'b': Invalid weight '0': \
             Weights must be positive",
        ),
        (
            json!([{"role": "-b", "weight": 1.0}]),
            "Failed to validate update weights request JSON: Invalid role '-b': \
             Role '-b' cannot start with '-'",
        ),
    ] {
        let (status, body) = call(
            addr,
            json!({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": update}}),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body, message);
    }

    let (status, _) = call(
        addr,
        json!({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": " b ", "weight": 3.0}]}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        weights(addr).await,
        json!([{"weight": 2.5, "role": "a"}, {"weight": 3.0, "role": "b"}])
    );
    // The classic endpoint reads and writes the same weights.
    let (status, body) = http(
        addr,
        "PUT",
        "/master/weights",
        r#"[{"role":"a","weight":4}]"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(addr, "GET", "/master/weights", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!([{"weight": 4.0, "role": "a"}, {"weight": 3.0, "role": "b"}])
    );
    let (status, _) = http(addr, "DELETE", "/master/weights", "").await;
    assert_eq!(status, 405);
    let (status, body) = http(addr, "GET", "/master/roles", "").await;
    assert_eq!(status, 200);
    let roles: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(roles["roles"][0]["name"], "a");
    assert_eq!(roles["roles"][0]["weight"], json!(4.0));
    assert_eq!(roles["roles"][1]["name"], "b");
    assert_eq!(roles["roles"][1]["weight"], json!(3.0));

    // A new master recovers the weights from the registry; --weights is
    // ignored once the registry holds some.
    let done = runtime.wait("master");
    master.terminate();
    done.await;
    restart(&runtime, dir.path(), &["--weights=a=9"]).await;
    assert_eq!(
        weights(addr).await,
        json!([{"weight": 4.0, "role": "a"}, {"weight": 3.0, "role": "b"}])
    );
}
