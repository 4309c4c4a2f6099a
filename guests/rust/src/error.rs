//! Host errors as a Rust type: every wrapper returns `Result<_, Error>`.

use crate::abi::error_code;

/// One of the ABI's error codes (docs/abi.md, "Error codes"), as returned by a host import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The key or config entry does not exist (the wrappers that read return `Ok(None)` instead).
    NotFound,
    /// The manifest did not declare the capability, or the operator did not grant it.
    Denied,
    /// A buffer lay outside guest memory: a bug in the guest (or the SDK).
    OutOfBounds,
    /// A key, value, name, payload or message is over its limit.
    TooLarge,
    /// A malformed argument: empty key, bad UTF-8, non-integer time, bad metric name, small buffer.
    Invalid,
    /// The store failed; the host fails the call (503) whatever the guest does.
    Unavailable,
    /// The call exceeded a per-call quota.
    Quota,
    /// A code outside the ABI's closed set (a host bug).
    Unknown(i32),
}

impl Error {
    /// The error for a negative result of an import.
    pub fn from_code(code: i32) -> Error {
        match code {
            error_code::NOT_FOUND => Error::NotFound,
            error_code::DENIED => Error::Denied,
            error_code::OUT_OF_BOUNDS => Error::OutOfBounds,
            error_code::TOO_LARGE => Error::TooLarge,
            error_code::INVALID => Error::Invalid,
            error_code::UNAVAILABLE => Error::Unavailable,
            error_code::QUOTA => Error::Quota,
            other => Error::Unknown(other),
        }
    }

    /// The ABI's code for this error.
    pub fn code(self) -> i32 {
        match self {
            Error::NotFound => error_code::NOT_FOUND,
            Error::Denied => error_code::DENIED,
            Error::OutOfBounds => error_code::OUT_OF_BOUNDS,
            Error::TooLarge => error_code::TOO_LARGE,
            Error::Invalid => error_code::INVALID,
            Error::Unavailable => error_code::UNAVAILABLE,
            Error::Quota => error_code::QUOTA,
            Error::Unknown(code) => code,
        }
    }

    /// The ABI's name for this error, e.g. "UNAVAILABLE".
    pub fn name(self) -> &'static str {
        error_code::name(self.code())
    }

    /// The HTTP status a guest usually answers with (the example guests' mapping): 404, 403, 500, 413, 400,
    /// 503, 429.
    pub fn http_status(self) -> u16 {
        match self {
            Error::NotFound => 404,
            Error::Denied => 403,
            Error::TooLarge => 413,
            Error::Invalid => 400,
            Error::Unavailable => 503,
            Error::Quota => 429,
            Error::OutOfBounds | Error::Unknown(_) => 500,
        }
    }
}

/// `Ok(result)` for a non-negative result of an import, the error otherwise.
pub fn check(result: i32) -> Result<i32, Error> {
    if result < 0 {
        Err(Error::from_code(result))
    } else {
        Ok(result)
    }
}
