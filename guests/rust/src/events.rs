//! The `events` capability: appending to the module's event log, and reading the input of `ea_on_events`
//! (docs/abi.md).

use crate::abi::{append_result, ea_event_append};
use crate::error::{check, Error};

/// What the event log did with an appended event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Appended: the event is new to the log.
    New,
    /// The same `(source, time)` with the same partition and payload is already in the log.
    Duplicate,
    /// The same `(source, time)` is in the log with a different partition or payload (the first one stays).
    Conflict,
}

/// Appends an event (partition 1-64 bytes, source 1-128 bytes, both UTF-8; time an integer number of
/// milliseconds in [0, 2^53); payload at most 4 KiB).
pub fn append(partition: impl AsRef<[u8]>, source: impl AsRef<[u8]>, time_ms: u64, payload: &[u8]) -> Result<Appended, Error> {
    let (partition, source) = (partition.as_ref(), source.as_ref());
    let r = check(unsafe {
        ea_event_append(
            partition.as_ptr(),
            partition.len() as i32,
            source.as_ptr(),
            source.len() as i32,
            time_ms as f64,
            payload.as_ptr(),
            payload.len() as i32,
        )
    })?;
    Ok(match r {
        append_result::NEW => Appended::New,
        append_result::DUPLICATE => Appended::Duplicate,
        append_result::CONFLICT => Appended::Conflict,
        other => return Err(Error::Unknown(other)),
    })
}

/// One event of an `ea_on_events` input, borrowed from it.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// The partition's bytes (UTF-8 as appended; for the aggregators, the region).
    pub partition: &'a [u8],
    /// The source's bytes (for the aggregators, the device id).
    pub source: &'a [u8],
    /// Milliseconds since the Unix epoch (an integer).
    pub time_ms: f64,
    pub payload: &'a [u8],
}

/// The events of an `ea_on_events` input, read in place. Iterating yields `Err(())` once and stops when the
/// input is malformed (a host bug): refuse the call then.
pub struct EventBatch<'a> {
    input: &'a [u8],
    pos: usize,
    remaining: u32,
    failed: bool,
}

impl<'a> EventBatch<'a> {
    /// Reads the header of an input; the events follow on iteration.
    pub fn new(input: &'a [u8]) -> EventBatch<'a> {
        if input.len() < 4 {
            return EventBatch { input, pos: 0, remaining: 0, failed: true };
        }
        let remaining = u32::from_le_bytes([input[0], input[1], input[2], input[3]]);
        EventBatch { input, pos: 4, remaining, failed: false }
    }

    /// The number of events the input announces (those not yet read).
    pub fn remaining(&self) -> u32 {
        self.remaining
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.input.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    fn text(&mut self) -> Option<&'a [u8]> {
        let len = self.take(2)?;
        let n = u16::from_le_bytes([len[0], len[1]]) as usize;
        self.take(n)
    }

    fn event(&mut self) -> Option<Event<'a>> {
        let partition = self.text()?;
        let source = self.text()?;
        let time = self.take(8)?;
        let mut t = [0u8; 8];
        t.copy_from_slice(time);
        let len = self.take(4)?;
        let n = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let payload = self.take(n)?;
        Some(Event { partition, source, time_ms: f64::from_le_bytes(t), payload })
    }
}

impl<'a> Iterator for EventBatch<'a> {
    type Item = Result<Event<'a>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.remaining == 0 {
            if self.pos != self.input.len() {
                self.failed = true; // trailing bytes
                return Some(Err(()));
            }
            return None;
        }
        self.remaining -= 1;
        match self.event() {
            Some(e) => Some(Ok(e)),
            None => {
                self.failed = true;
                Some(Err(()))
            }
        }
    }
}
