//! The `kv` capability: the module version's own key-value namespace (docs/abi.md, "Capabilities and
//! namespaces"). Keys are 1-512 bytes, values at most 1 MiB.

use crate::abi::{ea_kv_delete, ea_kv_get, ea_kv_list, ea_kv_put, error_code, limits};
use crate::error::{check, Error};

/// Calls a "get"-style import (`kv_get`, `config_get`): the result's length is returned even when it does not
/// fit, so a value larger than the first buffer is read again with a buffer of its size.
pub(crate) fn read_value(key: &[u8], get: unsafe extern "C" fn(*const u8, i32, *mut u8, i32) -> i32) -> Result<Option<Vec<u8>>, Error> {
    let mut first = [0u8; 1024];
    let mut n = unsafe { get(key.as_ptr(), key.len() as i32, first.as_mut_ptr(), first.len() as i32) };
    if n == error_code::NOT_FOUND {
        return Ok(None);
    }
    let mut len = check(n)? as usize;
    if len <= first.len() {
        return Ok(Some(first[..len].to_vec()));
    }
    loop {
        let mut out = Vec::with_capacity(len);
        n = unsafe { get(key.as_ptr(), key.len() as i32, out.as_mut_ptr(), len as i32) };
        if n == error_code::NOT_FOUND {
            return Ok(None);
        }
        let got = check(n)? as usize;
        if got <= len {
            // The host wrote `got` bytes.
            unsafe { out.set_len(got) };
            return Ok(Some(out));
        }
        len = got; // it grew in between: try again
    }
}

/// The value under `key`, or `None` if there is none.
pub fn get(key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
    read_value(key.as_ref(), ea_kv_get)
}

/// Reads the value under `key` into `out` without allocating: `Ok(Some(n))` is the value's length, copied
/// only if `n <= out.len()` (otherwise call again with a buffer of `n` bytes).
pub fn get_into(key: impl AsRef<[u8]>, out: &mut [u8]) -> Result<Option<usize>, Error> {
    let key = key.as_ref();
    let n = unsafe { ea_kv_get(key.as_ptr(), key.len() as i32, out.as_mut_ptr(), out.len() as i32) };
    if n == error_code::NOT_FOUND {
        return Ok(None);
    }
    check(n).map(|n| Some(n as usize))
}

/// Stores `value` under `key`.
pub fn put(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
    let (key, value) = (key.as_ref(), value.as_ref());
    check(unsafe { ea_kv_put(key.as_ptr(), key.len() as i32, value.as_ptr(), value.len() as i32) }).map(|_| ())
}

/// Deletes `key`: whether it existed.
pub fn delete(key: impl AsRef<[u8]>) -> Result<bool, Error> {
    let key = key.as_ref();
    check(unsafe { ea_kv_delete(key.as_ptr(), key.len() as i32) }).map(|r| r == 1)
}

/// One page of the keys that start with `prefix` and sort strictly after `after` (`None`: from the start),
/// in byte order, filling at most `page_bytes` of output (at least `limits::LIST_BUFFER_MIN`). An empty page
/// means there are no more keys.
pub fn list_page(prefix: impl AsRef<[u8]>, after: Option<&[u8]>, page_bytes: usize) -> Result<Vec<Vec<u8>>, Error> {
    let prefix = prefix.as_ref();
    let cap = page_bytes.max(limits::LIST_BUFFER_MIN);
    let mut out: Vec<u8> = Vec::with_capacity(cap);
    let (after_ptr, after_len) = after.map_or((core::ptr::null(), 0), |a| (a.as_ptr(), a.len() as i32));
    let n = check(unsafe {
        ea_kv_list(prefix.as_ptr(), prefix.len() as i32, after_ptr, after_len, out.as_mut_ptr(), cap as i32)
    })? as usize;
    unsafe { out.set_len(n.min(cap)) };
    let mut keys = Vec::new();
    let mut pos = 0;
    while pos + 2 <= out.len() {
        let len = u16::from_le_bytes([out[pos], out[pos + 1]]) as usize;
        pos += 2;
        if pos + len > out.len() {
            break;
        }
        keys.push(out[pos..pos + len].to_vec());
        pos += len;
    }
    Ok(keys)
}

/// Every key that starts with `prefix`, in byte order, fetched a page at a time.
pub fn keys(prefix: impl AsRef<[u8]>) -> Keys {
    Keys { prefix: prefix.as_ref().to_vec(), after: None, page: Vec::new(), done: false }
}

/// The iterator of [`keys`]: yields each key, or the error that stopped it (then nothing more).
pub struct Keys {
    prefix: Vec<u8>,
    after: Option<Vec<u8>>,
    page: Vec<Vec<u8>>,
    done: bool,
}

impl Iterator for Keys {
    type Item = Result<Vec<u8>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty() && !self.done {
            match list_page(&self.prefix, self.after.as_deref(), 8192) {
                Ok(mut page) if !page.is_empty() => {
                    page.reverse(); // popped from the end
                    self.after = page.first().cloned();
                    self.page = page;
                }
                Ok(_) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.page.pop().map(Ok)
    }
}
