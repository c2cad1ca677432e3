//! `cgroups/net_cls`'s class ids (upstream
//! `isolators/cgroups/subsystems/net_cls.{hpp,cpp}`).
//!
//! With `--cgroups_net_cls_primary_handle` (16 bits, `0xAAAA`) each
//! container gets a handle of its own: the primary handle and a free
//! secondary one from `--cgroups_net_cls_secondary_handles` (`0xBBBB,0xCCCC`,
//! default `1..=0xffff`), written to its cgroup's `net_cls.classid` as
//! `0xAAAABBBB` when it is isolated, reported as
//! `ContainerStatus.cgroup_info.net_cls.classid`, and released when it is
//! cleaned up. After an agent restart each recovered container's handle
//! is read back from its `net_cls.classid` and reserved again, so it is
//! not handed out twice. Without the primary handle nothing is assigned
//! (the operator does it), but a class id found in a recovered cgroup is
//! still reported, as upstream.
//!
//! Deliberate difference: a handle that cannot be freed at cleanup is
//! logged, not a cleanup failure (upstream keeps the cgroup then).

use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// A net_cls handle: a 16-bit primary and a 16-bit secondary handle
/// (upstream `NetClsHandle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetClsHandle {
    /// The primary (major) handle.
    pub primary: u16,
    /// The secondary (minor) handle.
    pub secondary: u16,
}

impl NetClsHandle {
    /// The handle of a 32-bit class id `0xAAAABBBB`.
    pub fn from_classid(classid: u32) -> Self {
        Self {
            primary: (classid >> 16) as u16,
            secondary: (classid & 0xffff) as u16,
        }
    }

    /// The 32-bit class id `0xAAAABBBB`.
    pub fn classid(self) -> u32 {
        (u32::from(self.primary) << 16) | u32::from(self.secondary)
    }
}

/// Upstream's `hexify`: lower-case hexadecimal without padding.
fn hex(value: impl Into<u32>) -> String {
    format!("{:#x}", value.into())
}

impl fmt::Display for NetClsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex(self.classid()))
    }
}

/// Hands out secondary handles under a primary handle (upstream
/// `NetClsHandleManager`): the lowest free one first.
#[derive(Debug, Clone)]
pub struct NetClsHandleManager {
    /// The primary handles (upstream takes a single one from the flag).
    primaries: BTreeSet<u16>,
    /// The secondary handles that may be used, inclusive.
    secondaries: (u16, u16),
    /// The secondary handles in use, by primary handle: a bitmap of the
    /// 64K secondary handles, as upstream keeps.
    used: HashMap<u16, Bitmap>,
}

/// One bit per secondary handle.
#[derive(Debug, Clone)]
struct Bitmap(Vec<u64>);

impl Default for Bitmap {
    fn default() -> Self {
        Bitmap(vec![0; 0x10000 / 64])
    }
}

impl Bitmap {
    fn test(&self, bit: u16) -> bool {
        self.0[usize::from(bit) / 64] & (1 << (bit % 64)) != 0
    }

    /// Sets `bit`; whether it was clear.
    fn set(&mut self, bit: u16) -> bool {
        let was = self.test(bit);
        self.0[usize::from(bit) / 64] |= 1 << (bit % 64);
        !was
    }

    /// Clears `bit`; whether it was set.
    fn reset(&mut self, bit: u16) -> bool {
        let was = self.test(bit);
        self.0[usize::from(bit) / 64] &= !(1 << (bit % 64));
        was
    }

    /// The lowest clear bit in `low..=high`.
    fn first_clear(&self, low: u16, high: u16) -> Option<u16> {
        let mut bit = u32::from(low);
        while bit <= u32::from(high) {
            let word = self.0[bit as usize / 64];
            if word == u64::MAX && bit % 64 == 0 {
                bit += 64;
                continue;
            }
            let candidate = bit as u16;
            if !self.test(candidate) {
                return Some(candidate);
            }
            bit += 1;
        }
        None
    }
}

impl NetClsHandleManager {
    /// A manager of `primaries`, each with the secondary handles
    /// `secondaries` (inclusive; `None`: upstream's default `1..=0xffff`).
    pub fn new(primaries: BTreeSet<u16>, secondaries: Option<(u16, u16)>) -> Self {
        Self {
            primaries,
            secondaries: secondaries.unwrap_or((1, 0xffff)),
            used: HashMap::new(),
        }
    }

    fn secondary_in_range(&self, secondary: u16) -> bool {
        (self.secondaries.0..=self.secondaries.1).contains(&secondary)
    }

    fn check(&self, handle: NetClsHandle) -> Result<(), String> {
        if !self.primaries.contains(&handle.primary) {
            return Err(format!(
                "Primary handle {} not present in primary handle range",
                hex(handle.primary)
            ));
        }
        if !self.secondary_in_range(handle.secondary) {
            return Err(format!(
                "Secondary handle {} not present in secondary handle range",
                hex(handle.secondary)
            ));
        }
        Ok(())
    }

    /// Allocates the lowest free secondary handle under `primary` (the
    /// first primary handle when `None`).
    pub fn alloc(&mut self, primary: Option<u16>) -> Result<NetClsHandle, String> {
        let primary = match primary.or_else(|| self.primaries.first().copied()) {
            Some(primary) => primary,
            None => return Err("No primary handle".into()),
        };
        if !self.primaries.contains(&primary) {
            return Err(format!(
                "Primary handle {} not present in primary handle range",
                hex(primary)
            ));
        }
        let (low, high) = self.secondaries;
        let used = self.used.entry(primary).or_default();
        let Some(secondary) = used.first_clear(low, high) else {
            return Err(format!(
                "No free handles remaining for primary handle {}",
                hex(primary)
            ));
        };
        used.set(secondary);
        Ok(NetClsHandle { primary, secondary })
    }

    /// Marks `handle` as used (a recovered container's).
    pub fn reserve(&mut self, handle: NetClsHandle) -> Result<(), String> {
        self.check(handle)?;
        let used = self.used.entry(handle.primary).or_default();
        if !used.set(handle.secondary) {
            return Err(format!(
                "The secondary handle {}, for the primary handle {} has already been allocated",
                hex(handle.secondary),
                hex(handle.primary)
            ));
        }
        Ok(())
    }

    /// Releases `handle`.
    pub fn free(&mut self, handle: NetClsHandle) -> Result<(), String> {
        self.check(handle)?;
        let Some(used) = self.used.get_mut(&handle.primary) else {
            return Err(format!(
                "No secondary handles have been allocated from this primary handle {}",
                hex(handle.primary)
            ));
        };
        if !used.reset(handle.secondary) {
            return Err(format!(
                "Secondary handle {} is not allocated for primary handle {}",
                hex(handle.secondary),
                hex(handle.primary)
            ));
        }
        Ok(())
    }

    /// Whether `handle` is in use.
    pub fn is_used(&self, handle: NetClsHandle) -> Result<bool, String> {
        self.check(handle)?;
        Ok(self
            .used
            .get(&handle.primary)
            .is_some_and(|used| used.test(handle.secondary)))
    }
}

/// stout's `numify<uint16_t>`: decimal, or hexadecimal after `0x`.
fn numify_u16(text: &str) -> Option<u16> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None => text.parse::<u16>().ok(),
    }
}

/// `--cgroups_net_cls_primary_handle` and
/// `--cgroups_net_cls_secondary_handles`, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetClsFlags {
    /// `--cgroups_net_cls_primary_handle`.
    pub primary_handle: Option<String>,
    /// `--cgroups_net_cls_secondary_handles`.
    pub secondary_handles: Option<String>,
}

impl NetClsFlags {
    /// The handle manager the flags ask for (upstream
    /// `NetClsSubsystemProcess::create`): none without a primary handle;
    /// the secondary handles are only looked at with one. Errors are
    /// upstream's messages.
    pub fn manager(&self) -> Result<Option<NetClsHandleManager>, String> {
        let Some(primary_flag) = &self.primary_handle else {
            return Ok(None);
        };
        let primary = numify_u16(primary_flag).ok_or_else(|| {
            format!(
                "Failed to parse the primary handle '{primary_flag}' set in flag \
                 --cgroups_net_cls_primary_handle"
            )
        })?;
        let mut secondaries = None;
        if let Some(range_flag) = &self.secondary_handles {
            let range: Vec<&str> = range_flag.split(',').filter(|s| !s.is_empty()).collect();
            let [lower, upper] = range.as_slice() else {
                return Err(format!(
                    "Failed to parse the range of secondary handles '{range_flag}' set in \
                     flag --cgroups_net_cls_secondary_handles"
                ));
            };
            let lower = numify_u16(lower).ok_or_else(|| {
                format!(
                    "Failed to parse the lower bound of range of secondary handles \
                     '{range_flag}' set in flag --cgroups_net_cls_secondary_handles"
                )
            })?;
            if lower == 0 {
                return Err("The secondary handle has to be a non-zero value.".into());
            }
            let upper = numify_u16(upper).ok_or_else(|| {
                format!(
                    "Failed to parse the upper bound of range of secondary handles \
                     '{range_flag}' set in flag --cgroups_net_cls_secondary_handles"
                )
            })?;
            if lower > upper {
                return Err(format!(
                    "Secondary handle range specified '{range_flag}', in flag \
                     --cgroups_net_cls_secondary_handles, is an empty set"
                ));
            }
            secondaries = Some((lower, upper));
        }
        Ok(Some(NetClsHandleManager::new(
            BTreeSet::from([primary]),
            secondaries,
        )))
    }
}

/// What `cgroups/net_cls` keeps: the manager (with a primary handle) and
/// each container's handle.
#[derive(Debug, Default)]
pub struct NetClsState {
    /// Present with `--cgroups_net_cls_primary_handle`.
    pub manager: Option<NetClsHandleManager>,
    /// The handle of each (top-level) container that has one.
    pub handles: HashMap<String, NetClsHandle>,
}

impl NetClsState {
    /// Allocates a handle for a container being prepared (upstream
    /// `prepare`); `None` without a manager.
    pub fn allocate(&mut self, container_id: &str) -> Result<Option<NetClsHandle>, String> {
        let Some(manager) = self.manager.as_mut() else {
            return Ok(None);
        };
        let handle = manager
            .alloc(None)
            .map_err(|e| format!("Failed to allocate a net_cls handle: {e}"))?;
        tracing::info!(%container_id, %handle, "Allocated a net_cls handle");
        self.handles.insert(container_id.to_owned(), handle);
        Ok(Some(handle))
    }

    /// Takes back a recovered container's class id (0: none).
    pub fn recover(&mut self, container_id: &str, classid: u32) -> Result<(), String> {
        if classid == 0 {
            return Ok(());
        }
        let handle = NetClsHandle::from_classid(classid);
        if let Some(manager) = self.manager.as_mut() {
            manager.reserve(handle).map_err(|e| {
                format!("Failed to recover the net_cls handle: Failed to reserve the handle: {e}")
            })?;
        }
        self.handles.insert(container_id.to_owned(), handle);
        Ok(())
    }

    /// Releases a container's handle, if it has one.
    pub fn release(&mut self, container_id: &str) {
        let Some(handle) = self.handles.remove(container_id) else {
            return;
        };
        if let Some(manager) = self.manager.as_mut() {
            if let Err(error) = manager.free(handle) {
                tracing::warn!(%container_id, %handle, %error, "Could not free the net_cls handle");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream `NetClsHandleManagerTest.AllocateFreeHandles`.
    #[test]
    fn handles_are_allocated_until_none_is_left_and_freed() {
        let mut manager = NetClsHandleManager::new(BTreeSet::from([0x0002]), None);
        let mut handles = Vec::new();
        for _ in 1..=0xffff {
            let handle = manager.alloc(Some(0x0002)).expect("a free handle");
            assert_eq!(manager.is_used(handle), Ok(true));
            handles.push(handle);
        }
        assert_eq!(handles[0], NetClsHandle::from_classid(0x0002_0001));
        assert_eq!(
            manager.alloc(Some(0x0002)),
            Err("No free handles remaining for primary handle 0x2".into())
        );
        let freed = handles[41];
        manager.free(freed).expect("freed");
        assert_eq!(manager.is_used(freed), Ok(false));
        // The freed one is handed out again.
        assert_eq!(manager.alloc(None), Ok(freed));
        // A primary handle outside the range.
        assert!(manager.alloc(Some(0x0003)).is_err());
        assert!(manager
            .free(NetClsHandle::from_classid(0x0003_0001))
            .is_err());
    }

    /// Upstream `NetClsHandleManagerTest.SecondaryHandleRange`.
    #[test]
    fn only_secondary_handles_in_the_range_are_used_or_reserved() {
        let mut manager = NetClsHandleManager::new(BTreeSet::from([2, 3]), Some((0xffff, 0xffff)));
        let handle = manager.alloc(Some(0x0003)).expect("the one handle");
        assert_eq!(handle.classid(), 0x0003_ffff);
        assert_eq!(manager.is_used(handle), Ok(true));
        assert!(manager.alloc(Some(0x0003)).is_err());
        manager.free(handle).expect("freed");
        manager.reserve(handle).expect("reserved");
        assert_eq!(manager.is_used(handle), Ok(true));
        assert_eq!(
            manager.reserve(handle),
            Err(
                "The secondary handle 0xffff, for the primary handle 0x3 has already been \
                 allocated"
                    .into()
            )
        );
        assert!(manager
            .reserve(NetClsHandle::from_classid(0x0003_0001))
            .is_err());
    }

    /// Upstream `NetClsHandleManagerTest.ReserveHandles`.
    #[test]
    fn a_reserved_handle_is_not_allocated_again() {
        let mut manager = NetClsHandleManager::new(BTreeSet::from([0x0002]), Some((1, 3)));
        manager
            .reserve(NetClsHandle::from_classid(0x0002_0001))
            .expect("reserved");
        assert_eq!(
            manager.alloc(None).map(NetClsHandle::classid),
            Ok(0x0002_0002)
        );
        assert_eq!(
            manager.alloc(None).map(NetClsHandle::classid),
            Ok(0x0002_0003)
        );
        assert!(manager.alloc(None).is_err());
    }

    #[test]
    fn flags_are_validated_with_upstreams_messages() {
        let flags = |primary: Option<&str>, secondary: Option<&str>| NetClsFlags {
            primary_handle: primary.map(String::from),
            secondary_handles: secondary.map(String::from),
        };
        let error = |primary, secondary| flags(primary, secondary).manager().expect_err("refused");
        assert!(flags(None, Some("garbage"))
            .manager()
            .expect("ok")
            .is_none());
        assert_eq!(
            error(Some("0x10000"), None),
            "Failed to parse the primary handle '0x10000' set in flag \
             --cgroups_net_cls_primary_handle"
        );
        assert!(error(Some("abc"), None).contains("Failed to parse the primary handle"));
        assert_eq!(
            error(Some("0x12"), Some("0x1")),
            "Failed to parse the range of secondary handles '0x1' set in flag \
             --cgroups_net_cls_secondary_handles"
        );
        assert!(error(Some("0x12"), Some("x,0x2")).contains("lower bound"));
        assert!(error(Some("0x12"), Some("0x1,0x1ffff")).contains("upper bound"));
        assert_eq!(
            error(Some("0x12"), Some("0,5")),
            "The secondary handle has to be a non-zero value."
        );
        assert_eq!(
            error(Some("0x12"), Some("0x5,0x4")),
            "Secondary handle range specified '0x5,0x4', in flag \
             --cgroups_net_cls_secondary_handles, is an empty set"
        );
        let mut manager = flags(Some("18"), Some("0x0011,0x0012"))
            .manager()
            .expect("valid")
            .expect("a manager");
        assert_eq!(
            manager.alloc(None).map(NetClsHandle::classid),
            Ok(0x0012_0011)
        );
        let mut manager = flags(Some("0xAAAA"), None)
            .manager()
            .expect("valid")
            .expect("a manager");
        assert_eq!(
            manager.alloc(None).map(NetClsHandle::classid),
            Ok(0xaaaa_0001)
        );
    }
}
