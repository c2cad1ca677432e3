//! The task status update manager (upstream
//! `src/slave/task_status_update_manager.cpp`).
//!
//! One stream per task. An update is appended to the task's
//! `task.updates` log (for checkpointing frameworks, fsynced) before
//! anything else happens; only then is the executor acknowledged and the
//! update queued for the master. One update per stream is in flight: it is
//! re-sent every 10 s, doubling up to 10 min, until the master
//! acknowledges it, and then the next is sent. Acknowledgements are logged
//! too, so a restarted agent can replay what is still unacknowledged.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mesos_proto::mesos::internal::{status_update_record, StatusUpdate, StatusUpdateRecord};
use prost::Message as _;

/// Upstream's `STATUS_UPDATE_RETRY_INTERVAL_MIN`.
pub const RETRY_INTERVAL_MIN: Duration = Duration::from_secs(10);
/// Upstream's `STATUS_UPDATE_RETRY_INTERVAL_MAX`.
pub const RETRY_INTERVAL_MAX: Duration = Duration::from_secs(600);

struct Stream {
    pending: VecDeque<StatusUpdate>,
    log: Option<PathBuf>,
    /// The retry interval of the update in flight.
    interval: Duration,
    /// Bumped on every send, so stale retry timers do nothing.
    generation: u64,
}

/// Key of a stream: (framework id, task id).
pub type StreamId = (String, String);

/// The status update manager of one agent.
#[derive(Default)]
pub struct StatusUpdateManager {
    streams: HashMap<StreamId, Stream>,
    /// Uuids of the updates replayed from the logs at recovery (so an
    /// update an executor sends again on re-registration is a duplicate).
    recovered: HashSet<(StreamId, Vec<u8>)>,
}

/// What replaying a `task.updates` log gives.
#[derive(Debug, Default, Clone)]
pub struct Replay {
    /// Every update in the log, oldest first.
    pub updates: Vec<StatusUpdate>,
    /// The updates not acknowledged yet, oldest first.
    pub pending: Vec<StatusUpdate>,
}

/// Replays a `task.updates` log (upstream `state::recover` of a task's
/// updates): UPDATE records queue an update, ACK records drop the one with
/// that uuid. A partial trailing record (a crash mid-append) is ignored
/// and the file truncated back to the last complete record; a complete
/// record that does not parse is an error.
pub fn replay(path: &Path) -> std::io::Result<Replay> {
    let bytes = std::fs::read(path)?;
    let mut replay = Replay::default();
    let mut offset = 0;
    while offset < bytes.len() {
        let Some(header) = bytes.get(offset..offset + 4) else {
            break;
        };
        let mut length = [0u8; 4];
        length.copy_from_slice(header);
        let length = u32::from_ne_bytes(length) as usize;
        let Some(body) = bytes.get(offset + 4..offset + 4 + length) else {
            break;
        };
        let record = StatusUpdateRecord::decode(body).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: bad record at offset {offset}: {e}", path.display()),
            )
        })?;
        match record.r#type() {
            status_update_record::Type::Update => {
                if let Some(update) = record.update {
                    replay.updates.push(update.clone());
                    replay.pending.push(update);
                }
            }
            status_update_record::Type::Ack => {
                let uuid = record.uuid.unwrap_or_default();
                replay.pending.retain(|u| {
                    u.uuid.as_deref() != Some(uuid.as_slice())
                        && u.status.uuid.as_deref() != Some(uuid.as_slice())
                });
            }
        }
        offset += 4 + length;
    }
    if offset < bytes.len() {
        tracing::warn!(path = %path.display(), bytes = bytes.len() - offset,
            "Truncating a partial trailing status update record");
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(offset as u64)?;
        file.sync_all()?;
    }
    Ok(replay)
}

/// Appends one record to a `task.updates` log: its length as a 4-byte
/// host-order integer, then the record (stout's `protobuf::write`).
fn append(path: &PathBuf, record: &StatusUpdateRecord) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = record.encode_to_vec();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let length = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
    file.write_all(&length.to_ne_bytes())?;
    file.write_all(&bytes)?;
    file.sync_data()
}

impl StatusUpdateManager {
    /// Records `update` (checkpointed in `log` when given). Returns whether
    /// it should be sent to the master now (it is the stream's first
    /// pending update).
    pub fn update(&mut self, update: StatusUpdate, log: Option<PathBuf>) -> std::io::Result<bool> {
        let id = (
            update.framework_id.value.clone(),
            update.status.task_id.value.clone(),
        );
        let stream = self.streams.entry(id).or_insert_with(|| Stream {
            pending: VecDeque::new(),
            log: log.clone(),
            interval: RETRY_INTERVAL_MIN,
            generation: 0,
        });
        if let Some(path) = &stream.log {
            let record = StatusUpdateRecord {
                r#type: status_update_record::Type::Update as i32,
                update: Some(update.clone()),
                uuid: None,
            };
            append(path, &record)?;
        }
        stream.pending.push_back(update);
        Ok(stream.pending.len() == 1)
    }

    /// Restores a stream replayed from `log` at recovery; its first
    /// pending update is in flight once the agent has re-registered.
    pub fn recover(&mut self, id: StreamId, replay: &Replay, log: PathBuf) {
        for update in &replay.updates {
            if let Some(uuid) = &update.uuid {
                self.recovered.insert((id.clone(), uuid.clone()));
            }
        }
        if replay.pending.is_empty() {
            return;
        }
        self.streams.insert(
            id,
            Stream {
                pending: replay.pending.iter().cloned().collect(),
                log: Some(log),
                interval: RETRY_INTERVAL_MIN,
                generation: 0,
            },
        );
    }

    /// Returns whether the update `uuid` of a stream is already known
    /// (pending, or replayed at recovery).
    pub fn is_duplicate(&self, id: &StreamId, uuid: &[u8]) -> bool {
        self.recovered.contains(&(id.clone(), uuid.to_vec()))
            || self.streams.get(id).is_some_and(|s| {
                s.pending.iter().any(|u| {
                    u.uuid.as_deref() == Some(uuid) || u.status.uuid.as_deref() == Some(uuid)
                })
            })
    }

    /// Returns the update in flight of a stream, with a fresh generation
    /// for its retry timer.
    pub fn in_flight(&mut self, id: &StreamId) -> Option<(StatusUpdate, u64, Duration)> {
        let stream = self.streams.get_mut(id)?;
        stream.generation += 1;
        let update = stream.pending.front()?.clone();
        Some((update, stream.generation, stream.interval))
    }

    /// A retry timer fired: returns the update to re-send if `generation`
    /// is still current, doubling the interval.
    pub fn retry(
        &mut self,
        id: &StreamId,
        generation: u64,
    ) -> Option<(StatusUpdate, u64, Duration)> {
        let stream = self.streams.get_mut(id)?;
        if stream.generation != generation {
            return None;
        }
        stream.interval = (stream.interval * 2).min(RETRY_INTERVAL_MAX);
        self.in_flight(id)
    }

    /// The master acknowledged `uuid`: returns whether it matched the
    /// update in flight (then logged and dropped; the next one, if any, is
    /// in flight).
    pub fn acknowledge(&mut self, id: &StreamId, uuid: &[u8]) -> std::io::Result<bool> {
        let Some(stream) = self.streams.get_mut(id) else {
            return Ok(false);
        };
        let matches = stream.pending.front().is_some_and(|u| {
            u.uuid.as_deref() == Some(uuid) || u.status.uuid.as_deref() == Some(uuid)
        });
        if !matches {
            return Ok(false);
        }
        if let Some(path) = &stream.log {
            let record = StatusUpdateRecord {
                r#type: status_update_record::Type::Ack as i32,
                update: None,
                uuid: Some(uuid.to_vec()),
            };
            append(path, &record)?;
        }
        stream.pending.pop_front();
        stream.interval = RETRY_INTERVAL_MIN;
        stream.generation += 1;
        if stream.pending.is_empty() {
            self.streams.remove(id);
        }
        Ok(true)
    }

    /// Returns the streams with an update in flight (to resend after
    /// re-registration).
    pub fn streams(&self) -> Vec<StreamId> {
        self.streams.keys().cloned().collect()
    }

    /// Returns whether a task still has unacknowledged updates.
    pub fn has_pending(&self, id: &StreamId) -> bool {
        self.streams.get(id).is_some_and(|s| !s.pending.is_empty())
    }

    /// Forgets the streams of a framework.
    pub fn remove_framework(&mut self, framework_id: &str) {
        self.streams.retain(|(f, _), _| f != framework_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::{FrameworkId, TaskId, TaskStatus};

    fn update(state: i32, uuid: u8) -> StatusUpdate {
        StatusUpdate {
            framework_id: FrameworkId { value: "f".into() },
            status: TaskStatus {
                task_id: TaskId { value: "t".into() },
                state,
                ..Default::default()
            },
            timestamp: 1.0,
            uuid: Some(vec![uuid; 16]),
            ..Default::default()
        }
    }

    #[test]
    fn one_update_in_flight_and_the_log_holds_updates_and_acks() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tasks/t/task.updates");
        let mut manager = StatusUpdateManager::default();
        let id = ("f".to_string(), "t".to_string());
        assert!(manager.update(update(1, 1), Some(log.clone())).unwrap());
        assert!(
            !manager.update(update(2, 2), Some(log.clone())).unwrap(),
            "second waits"
        );
        assert!(
            !manager.acknowledge(&id, &[9; 16]).unwrap(),
            "a stale ack changes nothing"
        );
        assert!(manager.acknowledge(&id, &[1; 16]).unwrap());
        assert_eq!(manager.in_flight(&id).unwrap().0.status.state, 2);
        assert!(manager.acknowledge(&id, &[2; 16]).unwrap());
        assert!(!manager.has_pending(&id));

        // The log: UPDATE, UPDATE, ACK, ACK, each length-prefixed.
        let bytes = std::fs::read(&log).unwrap();
        let mut offset = 0;
        let mut kinds = Vec::new();
        while offset < bytes.len() {
            let length = u32::from_ne_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
            let record =
                StatusUpdateRecord::decode(&bytes[offset + 4..offset + 4 + length]).unwrap();
            kinds.push(record.r#type);
            offset += 4 + length;
        }
        assert_eq!(kinds, vec![0, 0, 1, 1]);
    }

    #[test]
    fn replay_ignores_and_truncates_a_partial_trailing_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tasks/t/task.updates");
        let mut manager = StatusUpdateManager::default();
        let id = ("f".to_string(), "t".to_string());
        manager.update(update(1, 1), Some(log.clone())).unwrap();
        manager.acknowledge(&id, &[1; 16]).unwrap();
        manager.update(update(2, 2), Some(log.clone())).unwrap();
        let complete = std::fs::metadata(&log).unwrap().len();

        // A crash in the middle of appending a third record.
        let record = StatusUpdateRecord {
            r#type: status_update_record::Type::Update as i32,
            update: Some(update(3, 3)),
            uuid: None,
        }
        .encode_to_vec();
        let mut partial = u32::try_from(record.len()).unwrap().to_ne_bytes().to_vec();
        partial.extend_from_slice(&record[..record.len() / 2]);
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        file.write_all(&partial).unwrap();
        drop(file);

        let replay = replay(&log).unwrap();
        assert_eq!(replay.updates.len(), 2);
        assert_eq!(replay.pending.len(), 1);
        assert_eq!(replay.pending[0].status.state, 2);
        assert_eq!(
            std::fs::metadata(&log).unwrap().len(),
            complete,
            "truncated"
        );

        // A half-written length prefix is partial too.
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        file.write_all(&[7, 0]).unwrap();
        drop(file);
        assert_eq!(super::replay(&log).unwrap().pending.len(), 1);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), complete);

        // The recovered stream has the pending update in flight and knows
        // the acknowledged one.
        let mut recovered = StatusUpdateManager::default();
        recovered.recover(id.clone(), &super::replay(&log).unwrap(), log.clone());
        assert_eq!(recovered.in_flight(&id).unwrap().0.status.state, 2);
        assert!(recovered.is_duplicate(&id, &[1; 16]));
        assert!(recovered.is_duplicate(&id, &[2; 16]));
        assert!(!recovered.is_duplicate(&id, &[3; 16]));
        assert!(recovered.acknowledge(&id, &[2; 16]).unwrap());
        assert!(super::replay(&log).unwrap().pending.is_empty());
    }

    #[test]
    fn retries_double_up_to_the_maximum_and_stale_timers_do_nothing() {
        let mut manager = StatusUpdateManager::default();
        let id = ("f".to_string(), "t".to_string());
        manager.update(update(1, 1), None).unwrap();
        let (_, generation, interval) = manager.in_flight(&id).unwrap();
        assert_eq!(interval, RETRY_INTERVAL_MIN);
        let (_, next, interval) = manager.retry(&id, generation).unwrap();
        assert_eq!(interval, RETRY_INTERVAL_MIN * 2);
        assert!(manager.retry(&id, generation).is_none(), "superseded timer");
        let mut generation = next;
        for _ in 0..10 {
            let (_, g, interval) = manager.retry(&id, generation).unwrap();
            generation = g;
            assert!(interval <= RETRY_INTERVAL_MAX);
        }
    }
}
