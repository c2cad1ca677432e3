//! Process id generation: `ID::generate("slave")` gives `slave(1)`,
//! `slave(2)`, ... with one counter per prefix in each OS process.
//!
//! Upstream counterpart: `3rdparty/libprocess/src/id.cpp`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Returns `prefix(N)` where N counts calls with this prefix, from 1.
pub fn generate(prefix: &str) -> String {
    static COUNTERS: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let mut counters = COUNTERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let counter = counters.entry(prefix.to_string()).or_insert(0);
    *counter += 1;
    format!("{prefix}({counter})")
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_per_prefix_from_one() {
        assert_eq!(super::generate("id-test-a"), "id-test-a(1)");
        assert_eq!(super::generate("id-test-a"), "id-test-a(2)");
        assert_eq!(super::generate("id-test-b"), "id-test-b(1)");
    }
}
