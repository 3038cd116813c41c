//! Refilling the key pool in the background: a detached `latchkey pool fill`.

use std::process::{Command, Stdio};

use latchkey_agent::{pool, Agent};

/// The pool size from `LATCHKEY_POOL_SIZE` (0: no pre-generation).
pub fn pool_target() -> usize {
    pool::target_size(std::env::var("LATCHKEY_POOL_SIZE").ok().as_deref())
}

/// Starts `latchkey --state-dir DIR pool fill` detached, unless the pool is off or full.
/// Failing to start it is not an error: `hello setup` generates a key when the pool is
/// empty.
pub fn refill_pool(agent: &Agent) {
    let target = pool_target();
    if target == 0 || pool::count(agent.state()).unwrap_or(0) >= target {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let _ = Command::new(exe)
        .arg("--state-dir")
        .arg(agent.state().root())
        .args(["pool", "fill"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
