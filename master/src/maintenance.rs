//! Maintenance primitives: the schedule, machines going down and coming
//! back up (`/master/maintenance/schedule`, `/master/maintenance/status`,
//! `/master/machine/down`, `/master/machine/up` and the v1 calls
//! `GET_MAINTENANCE_SCHEDULE`, `UPDATE_MAINTENANCE_SCHEDULE`,
//! `GET_MAINTENANCE_STATUS`, `START_MAINTENANCE`, `STOP_MAINTENANCE`).
//!
//! Upstream counterparts: `Master::Http::maintenanceSchedule`,
//! `maintenanceStatus`, `machineDown`, `machineUp` in
//! `src/master/http.cpp`, `src/master/maintenance.cpp` (registry
//! operations and validation), and the `unavailability` of offers in
//! `Master::offer`.
//!
//! A machine is a `MachineID` (hostname and/or IP). Machines in the
//! schedule are `DRAINING`: offers of their agents carry the window's
//! `unavailability`. `machine/down` turns `DRAINING` machines `DOWN`: their
//! agents are told to shut down and removed, and an agent of a `DOWN`
//! machine that registers gets ``ShutdownMessage{"Machine is `DOWN`"}``.
//! `machine/up` ends maintenance: the machines leave the schedule. Every
//! change is stored in the registry (`schedules`, `machines`) first.
//!
//! Frameworks using agents of draining machines get inverse offers
//! ([`crate::inverse_offers`]); their answers are the machines' `statuses`.
//!
//! Deliberate differences: an agent belongs to a machine
//! when every field the `MachineID` sets (hostname, IP) equals its own
//! (upstream compares both fields, so IDs must name both there); no HTTP
//! authentication or ACLs.

use std::collections::BTreeMap;

use actix::{ActorFutureExt as _, AsyncContext as _, Context, WrapFuture as _};
use libprocess::http::{Request, Response};
use libprocess::HttpFuture;
use mesos_proto::mesos::internal::ShutdownMessage;
use mesos_proto::mesos::machine_info::Mode;
use mesos_proto::mesos::maintenance::{cluster_status, ClusterStatus, Schedule};
use mesos_proto::mesos::{MachineId, MachineInfo, Unavailability};

use crate::master::Master;
use crate::registrar::Operation;

/// The master's maintenance state.
#[derive(Debug, Clone, Default)]
pub struct Maintenance {
    /// The schedule.
    pub schedule: Schedule,
    /// Machines in maintenance, by (hostname, ip).
    pub machines: BTreeMap<(String, String), MachineInfo>,
}

fn key(id: &MachineId) -> (String, String) {
    (
        id.hostname.clone().unwrap_or_default(),
        id.ip.clone().unwrap_or_default(),
    )
}

fn text(id: &MachineId) -> String {
    mesos_proto::json::to_string(id)
}

/// Whether machine `id` is the agent's machine (`hostname`, `ip`).
pub fn matches(id: &MachineId, hostname: &str, ip: &str) -> bool {
    (id.hostname.is_some() || id.ip.is_some())
        && id.hostname.as_deref().is_none_or(|h| h == hostname)
        && id.ip.as_deref().is_none_or(|i| i == ip)
}

impl Maintenance {
    /// Rebuilds the state from the registry.
    pub fn recover(schedules: &[Schedule], machines: &[MachineInfo]) -> Self {
        Self {
            schedule: schedules.first().cloned().unwrap_or_default(),
            machines: machines.iter().map(|m| (key(&m.id), m.clone())).collect(),
        }
    }

    /// The machine of an agent, if it is in maintenance.
    pub fn machine_of(&self, hostname: &str, ip: &str) -> Option<&MachineInfo> {
        self.machines
            .values()
            .find(|m| matches(&m.id, hostname, ip))
    }

    /// The unavailability to put in an agent's offers.
    pub fn unavailability(&self, hostname: &str, ip: &str) -> Option<Unavailability> {
        self.machine_of(hostname, ip)
            .filter(|m| m.mode() == Mode::Draining)
            .and_then(|m| m.unavailability)
    }

    /// Whether an agent's machine is `DOWN`.
    pub fn is_down(&self, hostname: &str, ip: &str) -> bool {
        self.machine_of(hostname, ip)
            .is_some_and(|m| m.mode() == Mode::Down)
    }

    /// The cluster status (`draining_machines`, `down_machines`).
    pub fn status(&self) -> ClusterStatus {
        ClusterStatus {
            draining_machines: self
                .machines
                .values()
                .filter(|m| m.mode() == Mode::Draining)
                .map(|m| cluster_status::DrainingMachine {
                    id: m.id.clone(),
                    statuses: vec![],
                })
                .collect(),
            down_machines: self
                .machines
                .values()
                .filter(|m| m.mode() == Mode::Down)
                .map(|m| m.id.clone())
                .collect(),
        }
    }

    /// Applies a new schedule: machines in it are `DRAINING` (those
    /// `DOWN` stay so), machines left out are forgotten.
    pub fn apply_schedule(&mut self, schedule: &Schedule) {
        let mut machines = BTreeMap::new();
        for window in &schedule.windows {
            for id in &window.machine_ids {
                let mode = self
                    .machines
                    .get(&key(id))
                    .map_or(Mode::Draining, |m| m.mode());
                machines.insert(
                    key(id),
                    MachineInfo {
                        id: id.clone(),
                        mode: Some(mode as i32),
                        unavailability: Some(window.unavailability),
                    },
                );
            }
        }
        self.schedule = schedule.clone();
        self.machines = machines;
    }

    /// Turns machines `DOWN`.
    pub fn apply_down(&mut self, ids: &[MachineId]) {
        for id in ids {
            if let Some(machine) = self.machines.get_mut(&key(id)) {
                machine.mode = Some(Mode::Down as i32);
            }
        }
    }

    /// Ends maintenance: the machines leave the schedule and the state.
    pub fn apply_up(&mut self, ids: &[MachineId]) {
        for id in ids {
            self.machines.remove(&key(id));
        }
        for window in &mut self.schedule.windows {
            window
                .machine_ids
                .retain(|m| !ids.iter().any(|id| key(id) == key(m)));
        }
        self.schedule.windows.retain(|w| !w.machine_ids.is_empty());
    }

    /// Checks a schedule as upstream's `maintenance::validation::schedule`.
    pub fn validate_schedule(&self, schedule: &Schedule) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for window in &schedule.windows {
            if window.machine_ids.is_empty() {
                return Err("List of machines in the maintenance window is empty".into());
            }
            if window
                .unavailability
                .duration
                .is_some_and(|d| d.nanoseconds < 0)
            {
                return Err("Unavailability 'duration' is negative".into());
            }
            for id in &window.machine_ids {
                validate_machine(id)?;
                if !seen.insert(key(id)) {
                    return Err(format!(
                        "Machine '{}' appears more than once in the schedule",
                        text(id)
                    ));
                }
            }
        }
        for machine in self.machines.values() {
            if machine.mode() == Mode::Down && !seen.contains(&key(&machine.id)) {
                return Err(format!(
                    "Machine '{}' is deactivated and cannot be removed from the schedule",
                    text(&machine.id)
                ));
            }
        }
        Ok(())
    }

    fn validate_ids(&self, ids: &[MachineId], from: Mode, verb: &str) -> Result<(), String> {
        if ids.is_empty() {
            return Err("List of machines is empty".into());
        }
        for id in ids {
            validate_machine(id)?;
            let mode = self.machines.get(&key(id)).map(MachineInfo::mode);
            if mode != Some(from) {
                return Err(format!(
                    "Machine '{}' is not in {} mode and cannot be brought {verb}",
                    text(id),
                    from.as_str_name()
                ));
            }
        }
        Ok(())
    }
}

fn validate_machine(id: &MachineId) -> Result<(), String> {
    if id.hostname.as_deref().unwrap_or_default().is_empty()
        && id.ip.as_deref().unwrap_or_default().is_empty()
    {
        return Err("Both 'hostname' and 'ip' for a machine are empty".into());
    }
    if let Some(ip) = id.ip.as_deref().filter(|ip| !ip.is_empty()) {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("Failed to parse IP '{ip}'"));
        }
    }
    Ok(())
}

fn ready(response: Response) -> HttpFuture {
    Box::pin(async move { response })
}

/// What a maintenance change does once stored.
#[derive(Debug, Clone)]
enum Change {
    Schedule(Schedule),
    Down(Vec<MachineId>),
    Up(Vec<MachineId>),
}

impl Master {
    fn apply_maintenance(&mut self, change: Change, ctx: &mut Context<Self>) {
        match change {
            Change::Schedule(schedule) => {
                self.maintenance.apply_schedule(&schedule);
                tracing::info!(
                    machines = self.maintenance.machines.len(),
                    "Updated the maintenance schedule"
                );
            }
            Change::Down(ids) => {
                self.maintenance.apply_down(&ids);
                let down: Vec<(String, libprocess::UPID)> = self
                    .slaves
                    .registered
                    .iter()
                    .filter(|(_, s)| {
                        ids.iter()
                            .any(|id| matches(id, &s.info.hostname, &s.pid.ip.to_string()))
                    })
                    .map(|(id, s)| (id.clone(), s.pid.clone()))
                    .collect();
                for (id, pid) in down {
                    tracing::info!(slave_id = %id, "Shutting down the agent of a machine going DOWN");
                    libprocess::Process::base(self).send(
                        &pid,
                        &ShutdownMessage {
                            message: Some("Operator initiated 'Machine DOWN'".into()),
                        },
                    );
                    // As upstream, counted as an unregistration.
                    let counter = self.metrics.slave_removals_reason_unregistered.clone();
                    self.remove_slave(&id, "Operator initiated 'Machine DOWN'", Some(counter), ctx);
                }
            }
            Change::Up(ids) => {
                self.maintenance.apply_up(&ids);
                tracing::info!(machines = ids.len(), "Machines are UP");
            }
        }
        // New offers carry the new unavailability.
        self.rescind_offers(|_| true);
        self.maintenance_changed_for_inverse_offers();
        self.schedule_allocation(ctx);
    }
}

fn store(
    master: &mut Master,
    ctx: &mut Context<Master>,
    operation: Operation,
    change: Change,
) -> HttpFuture {
    let (tx, rx) = futures::channel::oneshot::channel();
    let registrar = master.registrar();
    ctx.spawn(
        async move { registrar.apply(operation).await }
            .into_actor(master)
            .map(move |result, master, ctx| {
                let response = match result {
                    Ok(_) => {
                        master.apply_maintenance(change, ctx);
                        Response::status(200)
                    }
                    Err(error) => {
                        Response::internal_error(format!("Failed to update maintenance: {error}"))
                    }
                };
                let _ = tx.send(response);
            }),
    );
    Box::pin(async move {
        rx.await
            .unwrap_or_else(|_| Response::internal_error("Master terminated"))
    })
}

/// `UPDATE_MAINTENANCE_SCHEDULE` and `POST /master/maintenance/schedule`.
pub fn update_schedule(
    master: &mut Master,
    ctx: &mut Context<Master>,
    schedule: Schedule,
) -> HttpFuture {
    if let Err(error) = master.maintenance.validate_schedule(&schedule) {
        return ready(Response::bad_request(error));
    }
    let mut next = master.maintenance.clone();
    next.apply_schedule(&schedule);
    let operation = Operation::UpdateMaintenance {
        schedule: schedule.clone(),
        machines: next.machines.values().cloned().collect(),
    };
    store(master, ctx, operation, Change::Schedule(schedule))
}

/// `START_MAINTENANCE` and `POST /master/machine/down`.
pub fn start(master: &mut Master, ctx: &mut Context<Master>, ids: Vec<MachineId>) -> HttpFuture {
    if let Err(error) = master
        .maintenance
        .validate_ids(&ids, Mode::Draining, "down")
    {
        return ready(Response::bad_request(error));
    }
    let mut next = master.maintenance.clone();
    next.apply_down(&ids);
    let operation = Operation::UpdateMaintenance {
        schedule: next.schedule.clone(),
        machines: next.machines.values().cloned().collect(),
    };
    store(master, ctx, operation, Change::Down(ids))
}

/// `STOP_MAINTENANCE` and `POST /master/machine/up`.
pub fn stop(master: &mut Master, ctx: &mut Context<Master>, ids: Vec<MachineId>) -> HttpFuture {
    if let Err(error) = master.maintenance.validate_ids(&ids, Mode::Down, "up") {
        return ready(Response::bad_request(error));
    }
    let mut next = master.maintenance.clone();
    next.apply_up(&ids);
    let operation = Operation::UpdateMaintenance {
        schedule: next.schedule.clone(),
        machines: next.machines.values().cloned().collect(),
    };
    store(master, ctx, operation, Change::Up(ids))
}

fn parse_body<M: prost::Message + prost::Name + Default>(request: &Request) -> Result<M, String> {
    let body = String::from_utf8_lossy(&request.body);
    let value: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("Failed to parse JSON: {e}"))?;
    mesos_proto::json::from_value(&value).map_err(|e| format!("Failed to convert JSON: {e}"))
}

fn parse_ids(request: &Request) -> Result<Vec<MachineId>, String> {
    let body = String::from_utf8_lossy(&request.body);
    let value: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("Failed to parse JSON: {e}"))?;
    let serde_json::Value::Array(items) = value else {
        return Err("Failed to parse JSON: expecting an array of machine ids".into());
    };
    items
        .iter()
        .map(|item| {
            mesos_proto::json::from_value::<MachineId>(item)
                .map_err(|e| format!("Failed to convert JSON: {e}"))
        })
        .collect()
}

fn json_response(request: &Request, body: String) -> Response {
    let jsonp = request
        .query
        .iter()
        .rev()
        .find(|(k, _)| k == "jsonp")
        .map(|(_, v)| v.as_str());
    Response::json(body, jsonp)
}

/// `/master/maintenance/schedule`: `GET` the schedule, `POST` a new one.
pub fn schedule_endpoint(
    master: &mut Master,
    ctx: &mut Context<Master>,
    request: Request,
) -> HttpFuture {
    if !master.recovered() {
        return ready(Response::status(503).with_body("text/plain", "No leader elected"));
    }
    match request.method.as_str() {
        "GET" => {
            let body = mesos_proto::json::to_string(&master.maintenance.schedule);
            ready(json_response(&request, body))
        }
        "POST" => match parse_body::<Schedule>(&request) {
            Ok(schedule) => update_schedule(master, ctx, schedule),
            Err(error) => ready(Response::bad_request(error)),
        },
        other => ready(Response::method_not_allowed(&["GET", "POST"], other)),
    }
}

/// `GET /master/maintenance/status`.
pub fn status_endpoint(
    master: &mut Master,
    _ctx: &mut Context<Master>,
    request: Request,
) -> HttpFuture {
    if !master.recovered() {
        return ready(Response::status(503).with_body("text/plain", "No leader elected"));
    }
    if request.method != "GET" {
        return ready(Response::method_not_allowed(&["GET"], &request.method));
    }
    let body = mesos_proto::json::to_string(&master.maintenance_status());
    ready(json_response(&request, body))
}

/// `POST /master/machine/down` and `/master/machine/up` with a JSON array
/// of `MachineID`s.
pub fn machine_endpoint(
    master: &mut Master,
    ctx: &mut Context<Master>,
    request: Request,
    down: bool,
) -> HttpFuture {
    if !master.recovered() {
        return ready(Response::status(503).with_body("text/plain", "No leader elected"));
    }
    if request.method != "POST" {
        return ready(Response::method_not_allowed(&["POST"], &request.method));
    }
    match parse_ids(&request) {
        Ok(ids) if down => start(master, ctx, ids),
        Ok(ids) => stop(master, ctx, ids),
        Err(error) => ready(Response::bad_request(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::maintenance::Window;
    use mesos_proto::mesos::TimeInfo;

    fn id(hostname: &str) -> MachineId {
        MachineId {
            hostname: Some(hostname.into()),
            ip: None,
        }
    }

    fn schedule(hosts: &[&str]) -> Schedule {
        Schedule {
            windows: vec![Window {
                machine_ids: hosts.iter().map(|h| id(h)).collect(),
                unavailability: Unavailability {
                    start: TimeInfo { nanoseconds: 1 },
                    duration: None,
                },
            }],
        }
    }

    #[test]
    fn machines_drain_go_down_and_come_back_up() {
        let mut state = Maintenance::default();
        assert!(state.validate_schedule(&schedule(&["a", "a"])).is_err());
        state.apply_schedule(&schedule(&["a", "b"]));
        assert!(state.unavailability("a", "10.0.0.1").is_some());
        assert!(state.validate_ids(&[id("a")], Mode::Down, "up").is_err());
        state
            .validate_ids(&[id("a")], Mode::Draining, "down")
            .unwrap();
        state.apply_down(&[id("a")]);
        assert!(state.is_down("a", "10.0.0.1"));
        assert_eq!(state.status().down_machines, vec![id("a")]);
        assert_eq!(state.status().draining_machines.len(), 1);
        // A DOWN machine must stay in the schedule.
        let error = state.validate_schedule(&schedule(&["b"])).unwrap_err();
        assert!(
            error.contains("cannot be removed from the schedule"),
            "{error}"
        );
        state.apply_up(&[id("a")]);
        assert!(!state.is_down("a", "10.0.0.1"));
        assert_eq!(state.schedule, schedule(&["b"]));
    }
}
