//! Limits on every SyncML input.

/// Limits enforced while parsing; exceeding one is an error (LK-POL-020) with its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum message size in bytes.
    pub max_message_bytes: usize,
    /// Maximum element nesting depth (the SyncML root is depth 1).
    pub max_depth: usize,
    /// Maximum number of elements in the message.
    pub max_elements: usize,
    /// Maximum number of commands, nested ones included.
    pub max_commands: usize,
    /// Maximum number of items in one command.
    pub max_items: usize,
    /// Maximum length in bytes of one text value (Data, LocURI, ...).
    pub max_value_bytes: usize,
    /// Maximum number of attributes on one element. SyncML uses at most one (`xmlns`);
    /// the cap also bounds quick-xml's duplicate-attribute check, which is quadratic in
    /// the number of attributes of an element.
    pub max_attributes: usize,
}

impl Default for Limits {
    /// 512 KiB, depth 12 (the deepest legal SyncML here is 9: SyncML/SyncBody/Atomic/
    /// Sequence/Add/Item/Meta/Format plus text), 20 000 elements, 1 000 commands, 100 items
    /// per command, 16 KiB per value, 32 attributes per element.
    fn default() -> Self {
        Self {
            max_message_bytes: 512 * 1024,
            max_depth: 12,
            max_elements: 20_000,
            max_commands: 1_000,
            max_items: 100,
            max_value_bytes: 16 * 1024,
            max_attributes: 32,
        }
    }
}
