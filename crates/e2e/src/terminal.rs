//! `latchkey` on a pseudo-terminal, answering its prompts as a person would
//! (tests/device/converse.py): what a command asks, in what order, and what it keeps
//! when an answer is refused.

use std::process::Command;

use crate::{bin, World};

/// What a conversation on a terminal gave.
#[derive(Debug)]
pub struct Conversation {
    /// Everything the command printed (standard output and error), `\n` line ends.
    pub transcript: String,
    /// How many of the scripted prompts appeared and were answered.
    pub answered: usize,
    /// The command's exit status (124: it did not finish within a minute).
    pub code: i32,
}

impl World {
    /// Runs `latchkey --state-dir DIR args` on a pseudo-terminal; for each `(prompt,
    /// answer)` in turn, waits for the prompt to appear after the previous answer and types
    /// the answer.
    pub fn device_on_terminal(
        &self,
        device: &str,
        args: &[&str],
        script: &[(&str, &str)],
    ) -> Conversation {
        let python = std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| "python3".into());
        // Cargo's run-time variable first: a test binary built in another checkout that
        // shares the target directory must still find this checkout's script.
        let converse = format!(
            "{}/../../tests/device/converse.py",
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
        );
        let pairs: Vec<[&str; 2]> = script.iter().map(|(p, a)| [*p, *a]).collect();
        let out = Command::new(python)
            .arg(converse)
            .arg(serde_json::to_string(&pairs).expect("JSON"))
            .arg(bin("latchkey"))
            .arg("--state-dir")
            .arg(self.device_dir(device))
            .args(args)
            .output()
            .expect("run python3 with a pseudo-terminal");
        assert!(
            out.status.success(),
            "converse.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("converse.py prints JSON");
        Conversation {
            transcript: v["transcript"].as_str().unwrap_or_default().to_owned(),
            answered: v["answered"].as_u64().unwrap_or(0) as usize,
            code: v["code"].as_i64().unwrap_or(-1) as i32,
        }
    }
}
