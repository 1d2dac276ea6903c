//! How much memory the machine has free, for limits on decoding and pre-flight's memory line.

/// Memory available to a new allocation now (Linux: `MemAvailable` in `/proc/meminfo`), or
/// `None` where it cannot be read.
pub fn available_bytes() -> Option<u64> {
    meminfo_kib("MemAvailable:").map(|kib| kib * 1024)
}

/// Total memory of the machine, or `None` where it cannot be read.
pub fn total_bytes() -> Option<u64> {
    meminfo_kib("MemTotal:").map(|kib| kib * 1024)
}

fn meminfo_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
