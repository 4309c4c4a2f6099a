//! What every guest needs around its handlers: the allocator, the `ea_alloc` export, the panic hook and the
//! trigger entry points that [`crate::http_handler!`] and [`crate::events_handler!`] export.

use crate::abi::log_level;
use crate::error::Error;
use crate::events::EventBatch;
use crate::http::{IntoResponse, Request};
use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;

/// A bump allocator that never frees: the host restores the guest's memory after every call, so each call
/// starts from an empty heap (as the AssemblyScript SDK's stub runtime). A failed allocation (memory at its
/// maximum) is a trap: the host rolls the call back.
struct BumpAllocator;

/// The next free byte; 0 until the first allocation of a call (it lives in linear memory, so the host's
/// reset puts it back to 0).
static mut NEXT: usize = 0;

extern "C" {
    /// The first byte after the static data and the stack (defined by the linker).
    static __heap_base: u8;
}

const PAGE: usize = 65536;

/// Makes memory at least `end` bytes long; false when it cannot grow that far.
fn reserve(end: usize) -> bool {
    let have = wasm32::memory_size(0) * PAGE;
    if end <= have {
        return true;
    }
    wasm32::memory_grow(0, (end - have + PAGE - 1) / PAGE) != usize::MAX
}

unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if NEXT == 0 {
            NEXT = &__heap_base as *const u8 as usize;
        }
        let start = (NEXT + layout.align() - 1) & !(layout.align() - 1);
        match start.checked_add(layout.size()) {
            Some(end) if reserve(end) => {
                NEXT = end;
                start as *mut u8
            }
            _ => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The last allocation grows (or shrinks) in place: a Vec that is pushed to costs no copies.
        if ptr as usize + layout.size() == NEXT {
            return match (ptr as usize).checked_add(new_size) {
                Some(end) if reserve(end) => {
                    NEXT = end;
                    ptr
                }
                _ => core::ptr::null_mut(),
            };
        }
        let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator;

/// The `ea_alloc` export: the host asks for a buffer for the input of a call.
#[no_mangle]
pub extern "C" fn ea_alloc(len: i32) -> i32 {
    if len < 0 {
        wasm32::unreachable();
    }
    let p = unsafe { ALLOCATOR.alloc(Layout::from_size_align_unchecked(len as usize, 8)) };
    if p.is_null() {
        wasm32::unreachable();
    }
    p as i32
}

/// Logs a panic's message at level "error" through `ea.log`; with `panic=abort` the panic then ends in
/// `unreachable`, a trap: the host rolls back the call's writes and reports `guest_trap`. Installed at the
/// start of every call, because the host resets memory (and so the hook) after every call.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let mut message = String::from("guest panic: ");
        message.push_str(&info.to_string());
        let _ = crate::log::write(log_level::ERROR, &message);
    }));
}

/// The input of the call in progress.
///
/// # Safety
/// `ptr` and `len` are what the host passed to the trigger: a buffer from `ea_alloc` that the host filled.
unsafe fn input<'a>(ptr: i32, len: i32) -> &'a [u8] {
    core::slice::from_raw_parts(ptr as usize as *const u8, len as usize)
}

#[doc(hidden)]
pub fn on_http<R: IntoResponse>(ptr: i32, len: i32, handler: impl FnOnce(&Request) -> R) -> i32 {
    install_panic_hook();
    let req = match Request::parse(unsafe { input(ptr, len) }) {
        Some(req) => req,
        None => panic!("malformed ea_on_http envelope"),
    };
    handler(&req).into_response().frame()
}

#[doc(hidden)]
pub fn on_events(ptr: i32, len: i32, handler: impl FnOnce(EventBatch) -> Result<(), Error>) -> i32 {
    install_panic_hook();
    match handler(EventBatch::new(unsafe { input(ptr, len) })) {
        Ok(()) => 0,
        Err(e) => {
            let mut message = String::from("ea_on_events refused: ");
            message.push_str(e.name());
            let _ = crate::log::write(log_level::ERROR, &message);
            1
        }
    }
}

/// Exports `ea_on_http` calling `handler(&Request) -> Response` (or `Result<Response, Error>`).
#[macro_export]
macro_rules! http_handler {
    ($handler:path) => {
        #[no_mangle]
        pub extern "C" fn ea_on_http(ptr: i32, len: i32) -> i32 {
            $crate::runtime::on_http(ptr, len, $handler)
        }
    };
}

/// Exports `ea_on_events` calling `handler(EventBatch) -> Result<(), Error>`: `Ok` folds the events, `Err`
/// refuses the call (the host rolls back its writes and reports `guest_refused`).
#[macro_export]
macro_rules! events_handler {
    ($handler:path) => {
        #[no_mangle]
        pub extern "C" fn ea_on_events(ptr: i32, len: i32) -> i32 {
            $crate::runtime::on_events(ptr, len, $handler)
        }
    };
}
