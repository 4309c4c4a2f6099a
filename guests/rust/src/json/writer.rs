//! The JSON writer: escaping identical to `JSON.stringify`, numbers in the shortest form that `JSON.parse`
//! reads back as the same double (see [`crate::number`]).

/// Writes one JSON document; commas and colons are placed automatically.
#[derive(Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
    comma: bool,
    after_key: bool,
}

impl JsonWriter {
    pub fn new() -> JsonWriter {
        JsonWriter::default()
    }

    /// The document's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn before_value(&mut self) {
        if self.after_key {
            self.after_key = false;
        } else if self.comma {
            self.buf.push(b',');
        }
        self.comma = true;
    }

    pub fn begin_object(&mut self) {
        self.before_value();
        self.buf.push(b'{');
        self.comma = false;
    }

    pub fn end_object(&mut self) {
        self.buf.push(b'}');
        self.comma = true;
    }

    pub fn begin_array(&mut self) {
        self.before_value();
        self.buf.push(b'[');
        self.comma = false;
    }

    pub fn end_array(&mut self) {
        self.buf.push(b']');
        self.comma = true;
    }

    /// An object key; the next value written is its value.
    pub fn key(&mut self, key: &str) {
        self.string_bytes(key.as_bytes());
        self.buf.push(b':');
        self.after_key = true;
    }

    pub fn string(&mut self, s: &str) {
        self.string_bytes(s.as_bytes());
    }

    /// A string from UTF-8 bytes (invalid sequences are written as U+FFFD).
    pub fn string_bytes(&mut self, s: &[u8]) {
        self.before_value();
        self.buf.push(b'"');
        for chunk in String::from_utf8_lossy(s).as_bytes() {
            let c = *chunk;
            match c {
                b'"' => self.buf.extend_from_slice(b"\\\""),
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                0x08 => self.buf.extend_from_slice(b"\\b"),
                0x0c => self.buf.extend_from_slice(b"\\f"),
                0..=0x1f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.buf.extend_from_slice(b"\\u00");
                    self.buf.push(HEX[(c >> 4) as usize]);
                    self.buf.push(HEX[(c & 15) as usize]);
                }
                _ => self.buf.push(c),
            }
        }
        self.buf.push(b'"');
    }

    /// A number; `null` when it is not finite (JSON has no NaN or infinity).
    pub fn number(&mut self, x: f64) {
        if !x.is_finite() {
            return self.null();
        }
        if x == x.trunc() && x.abs() < 9007199254740992.0 && !(x == 0.0 && x.is_sign_negative()) {
            return self.int(x as i64);
        }
        self.before_value();
        crate::number::write_f64(&mut self.buf, x);
    }

    pub fn int(&mut self, v: i64) {
        self.before_value();
        write_int(&mut self.buf, v);
    }

    pub fn bool(&mut self, v: bool) {
        self.before_value();
        self.buf.extend_from_slice(if v { b"true" } else { b"false" });
    }

    pub fn null(&mut self) {
        self.before_value();
        self.buf.extend_from_slice(b"null");
    }

    pub fn key_string(&mut self, key: &str, value: &str) {
        self.key(key);
        self.string(value);
    }

    pub fn key_number(&mut self, key: &str, value: f64) {
        self.key(key);
        self.number(value);
    }

    pub fn key_int(&mut self, key: &str, value: i64) {
        self.key(key);
        self.int(value);
    }

    pub fn key_bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.bool(value);
    }

    pub fn key_null(&mut self, key: &str) {
        self.key(key);
        self.null();
    }
}

/// Appends the decimal digits of `v` (no formatting machinery: integers are on every response's path).
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}
