//! A strict pull reader for untrusted JSON (RFC 8259) with a nesting limit.

/// The deepest nesting of arrays and objects the reader accepts.
pub const MAX_DEPTH: usize = 64;

/// What [`JsonReader::next`] found. The text of `Key` and `String` is in [`JsonReader::text`], the value of
/// `Number` in [`JsonReader::number`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    BeginObject,
    EndObject,
    BeginArray,
    EndArray,
    Key,
    String,
    Number,
    True,
    False,
    Null,
    /// The end of the document (after one complete value and nothing but whitespace).
    End,
    /// Malformed input: see [`JsonReader::error`] and [`JsonReader::error_offset`]. Sticky.
    Error,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    /// After `[`: a value or `]`.
    ValueOrEnd,
    /// After `{`: a key or `}`.
    KeyOrEnd,
    /// After `,` in an object.
    Key,
    /// After a value inside a container.
    CommaOrEnd,
    /// After the top-level value.
    Done,
}

/// A strict streaming reader over a JSON document.
pub struct JsonReader<'a> {
    input: &'a [u8],
    pos: usize,
    stack: Vec<u8>,
    expect: Expect,
    text: Vec<u8>,
    number: f64,
    error: &'static str,
    error_offset: usize,
}

impl<'a> JsonReader<'a> {
    pub fn new(input: &'a [u8]) -> JsonReader<'a> {
        JsonReader { input, pos: 0, stack: Vec::new(), expect: Expect::Value, text: Vec::new(), number: 0.0, error: "", error_offset: 0 }
    }

    /// The decoded UTF-8 text of the last `Key` or `String`.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The value of the last `Number` (exactly the double `JSON.parse` gives; infinite when out of range).
    pub fn number(&self) -> f64 {
        self.number
    }

    /// What was wrong, after `Token::Error`.
    pub fn error(&self) -> &'static str {
        self.error
    }

    /// The byte offset of the error.
    pub fn error_offset(&self) -> usize {
        self.error_offset
    }

    fn fail(&mut self, message: &'static str) -> Token {
        if self.error.is_empty() {
            self.error = message;
            self.error_offset = self.pos;
        }
        self.pos = self.input.len();
        self.expect = Expect::Done;
        self.stack.clear();
        Token::Error
    }

    fn skip_whitespace(&mut self) {
        while let Some(&c) = self.input.get(self.pos) {
            if c != b' ' && c != b'\t' && c != b'\n' && c != b'\r' {
                break;
            }
            self.pos += 1;
        }
    }

    /// The next token.
    pub fn next(&mut self) -> Token {
        if !self.error.is_empty() {
            return Token::Error;
        }
        loop {
            self.skip_whitespace();
            let c = match self.input.get(self.pos) {
                Some(&c) => c,
                None if self.expect == Expect::Done => return Token::End,
                None => return self.fail("unexpected end of input"),
            };
            match self.expect {
                Expect::Done => return self.fail("unexpected data after the value"),
                Expect::CommaOrEnd => {
                    let top = *self.stack.last().unwrap_or(&b'[');
                    if c == b',' {
                        self.pos += 1;
                        self.expect = if top == b'{' { Expect::Key } else { Expect::Value };
                        continue;
                    }
                    return self.close(c, top);
                }
                Expect::KeyOrEnd if c == b'}' => return self.close(c, b'{'),
                Expect::ValueOrEnd if c == b']' => return self.close(c, b'['),
                Expect::KeyOrEnd | Expect::Key => {
                    if c != b'"' {
                        return self.fail("expected a string key");
                    }
                    if !self.string() {
                        return Token::Error;
                    }
                    self.skip_whitespace();
                    if self.input.get(self.pos) != Some(&b':') {
                        return self.fail("expected ':' after a key");
                    }
                    self.pos += 1;
                    self.expect = Expect::Value;
                    return Token::Key;
                }
                Expect::Value | Expect::ValueOrEnd => return self.value(c),
            }
        }
    }

    fn close(&mut self, c: u8, top: u8) -> Token {
        let want = if top == b'{' { b'}' } else { b']' };
        if c != want {
            return self.fail(if top == b'{' { "expected ',' or '}'" } else { "expected ',' or ']'" });
        }
        self.pos += 1;
        self.stack.pop();
        self.after_value();
        if top == b'{' {
            Token::EndObject
        } else {
            Token::EndArray
        }
    }

    fn after_value(&mut self) {
        self.expect = if self.stack.is_empty() { Expect::Done } else { Expect::CommaOrEnd };
    }

    fn value(&mut self, c: u8) -> Token {
        let token = match c {
            b'{' | b'[' => {
                if self.stack.len() >= MAX_DEPTH {
                    return self.fail("nested too deeply");
                }
                self.pos += 1;
                self.stack.push(c);
                self.expect = if c == b'{' { Expect::KeyOrEnd } else { Expect::ValueOrEnd };
                return if c == b'{' { Token::BeginObject } else { Token::BeginArray };
            }
            b'"' => {
                if !self.string() {
                    return Token::Error;
                }
                Token::String
            }
            b'-' | b'0'..=b'9' => {
                if !self.scan_number() {
                    return self.fail("invalid number");
                }
                Token::Number
            }
            b't' => self.literal(b"true", Token::True),
            b'f' => self.literal(b"false", Token::False),
            b'n' => self.literal(b"null", Token::Null),
            _ => return self.fail("unexpected character"),
        };
        if token != Token::Error {
            self.after_value();
        }
        token
    }

    fn literal(&mut self, word: &[u8], token: Token) -> Token {
        if self.input[self.pos..].starts_with(word) {
            self.pos += word.len();
            token
        } else {
            self.fail("unexpected character")
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.input.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn scan_number(&mut self) -> bool {
        let start = self.pos;
        if self.input[self.pos] == b'-' {
            self.pos += 1;
        }
        if self.input.get(self.pos) == Some(&b'0') {
            self.pos += 1;
        } else if self.digits() == 0 {
            return false;
        }
        if self.input.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return false;
            }
        }
        if matches!(self.input.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.input.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return false;
            }
        }
        // The grammar is checked above; Rust's parser rounds exactly like JSON.parse.
        let text = unsafe { core::str::from_utf8_unchecked(&self.input[start..self.pos]) };
        match text.parse::<f64>() {
            Ok(x) => {
                self.number = x;
                true
            }
            Err(_) => false,
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = *self.input.get(self.pos)?;
            let d = (c as char).to_digit(16)?;
            v = v << 4 | d;
            self.pos += 1;
        }
        Some(v)
    }

    /// Reads a string at `pos` (on its opening quote) into `text`; false (and the error set) if malformed.
    fn string(&mut self) -> bool {
        self.pos += 1;
        self.text.clear();
        let start = self.pos;
        loop {
            let c = match self.input.get(self.pos) {
                Some(&c) => c,
                None => {
                    self.fail("unterminated string");
                    return false;
                }
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    self.pos += 1;
                    let e = self.input.get(self.pos).copied().unwrap_or(0);
                    self.pos += 1;
                    let simple = match e {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => 0,
                        _ => {
                            self.fail("invalid escape");
                            return false;
                        }
                    };
                    if e != b'u' {
                        self.text.push(simple);
                        continue;
                    }
                    let mut cp = match self.hex4() {
                        Some(cp) => cp,
                        None => {
                            self.fail("invalid \\u escape");
                            return false;
                        }
                    };
                    if (0xd800..0xdc00).contains(&cp) && self.input[self.pos..].starts_with(b"\\u") {
                        let save = self.pos;
                        self.pos += 2;
                        match self.hex4() {
                            Some(lo) if (0xdc00..0xe000).contains(&lo) => cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00),
                            _ => self.pos = save,
                        }
                    }
                    // A lone surrogate becomes U+FFFD, as the host's decoder would make of it.
                    let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                    let mut buf = [0u8; 4];
                    self.text.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => {
                    self.fail("control character in a string");
                    return false;
                }
                _ => {
                    self.text.push(c);
                    self.pos += 1;
                }
            }
        }
        if core::str::from_utf8(&self.text).is_err() {
            self.pos = start;
            self.fail("invalid UTF-8 in a string");
            return false;
        }
        true
    }

    /// Skips the rest of the value whose first token was `t` (the whole object or array); false on an error.
    pub fn skip_value(&mut self, t: Token) -> bool {
        let mut depth = match t {
            Token::BeginObject | Token::BeginArray => 1,
            Token::Error | Token::End | Token::EndObject | Token::EndArray => return false,
            _ => return true,
        };
        while depth > 0 {
            match self.next() {
                Token::BeginObject | Token::BeginArray => depth += 1,
                Token::EndObject | Token::EndArray => depth -= 1,
                Token::Error | Token::End => return false,
                _ => {}
            }
        }
        true
    }
}
