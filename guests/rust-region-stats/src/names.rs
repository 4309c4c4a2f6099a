//! The name rules of docs/api.md, as the AssemblyScript aggregator applies them (guests/aggregator/keys.ts).

/// 1-64 bytes of A-Z, a-z, 0-9, '.', '_' or '-'.
pub fn valid_region(name: &[u8]) -> bool {
    (1..=64).contains(&name.len()) && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-')
}

/// 1-128 bytes of A-Z, a-z, 0-9, '.', '_', ':' or '-'.
pub fn valid_device(id: &[u8]) -> bool {
    (1..=128).contains(&id.len()) && id.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b':' || c == b'-')
}
