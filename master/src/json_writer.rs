//! A small streaming JSON writer for the state endpoints: objects,
//! arrays, strings and numbers written straight into a `String`, with the
//! exact output of [`mesos_proto::json::render`] (stout's escaping, `/`
//! included, and `%#.15g` doubles), so documents of hundreds of thousands
//! of tasks are produced without a `serde_json::Value` per task.
//!
//! Keys are written as given: a caller that could repeat a key (where a
//! `serde_json::Map` would keep one) must drop the repeats itself.

use std::fmt::Write as _;

use serde_json::Value;

/// Writes `{`, the fields `fields` adds, `}`.
pub fn object(out: &mut String, fields: impl FnOnce(&mut Obj<'_>)) {
    out.push('{');
    let mut o = Obj { out, first: true };
    fields(&mut o);
    out.push('}');
}

/// Writes `[`, the items `items` adds, `]`.
pub fn array(out: &mut String, items: impl FnOnce(&mut Arr<'_>)) {
    out.push('[');
    let mut a = Arr { out, first: true };
    items(&mut a);
    out.push(']');
}

/// The fields of an object being written.
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl Obj<'_> {
    /// Writes the separator and `"key":`; returns the buffer for the
    /// value, which the caller must write (exactly one).
    pub fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_str(self.out, key);
        self.out.push(':');
        self.out
    }

    /// Fields already written (`"a":1,"b":2`, as between an object's
    /// braces), after the fields before them.
    pub fn fields(&mut self, fields: &str) {
        if fields.is_empty() {
            return;
        }
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(fields);
    }

    /// `"key":"value"`.
    pub fn str(&mut self, key: &str, value: &str) {
        let out = self.key(key);
        write_str(out, value);
    }

    /// `"key":` a C++ double.
    pub fn dbl(&mut self, key: &str, value: f64) {
        let out = self.key(key);
        write_dbl(out, value);
    }

    /// `"key":` an integer.
    pub fn int(&mut self, key: &str, value: i64) {
        let out = self.key(key);
        let _ = write!(out, "{value}");
    }

    /// `"key":` an unsigned integer.
    pub fn uint(&mut self, key: &str, value: u64) {
        let out = self.key(key);
        let _ = write!(out, "{value}");
    }

    /// `"key":true` or `false`.
    pub fn bool(&mut self, key: &str, value: bool) {
        let out = self.key(key);
        out.push_str(if value { "true" } else { "false" });
    }

    /// `"key":` a JSON value.
    pub fn value(&mut self, key: &str, value: &Value) {
        let out = self.key(key);
        write_value(out, value);
    }

    /// `"key":{...}`.
    pub fn obj(&mut self, key: &str, fields: impl FnOnce(&mut Obj<'_>)) {
        let out = self.key(key);
        object(out, fields);
    }

    /// `"key":[...]`.
    pub fn arr(&mut self, key: &str, items: impl FnOnce(&mut Arr<'_>)) {
        let out = self.key(key);
        array(out, items);
    }
}

/// The items of an array being written.
pub struct Arr<'a> {
    out: &'a mut String,
    first: bool,
}

impl Arr<'_> {
    /// Writes the separator; returns the buffer for the item, which the
    /// caller must write (exactly one).
    pub fn item(&mut self) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out
    }

    /// A string item.
    pub fn str(&mut self, value: &str) {
        let out = self.item();
        write_str(out, value);
    }

    /// A JSON value item.
    pub fn value(&mut self, value: &Value) {
        let out = self.item();
        write_value(out, value);
    }

    /// An object item.
    pub fn obj(&mut self, fields: impl FnOnce(&mut Obj<'_>)) {
        let out = self.item();
        object(out, fields);
    }
}

/// Writes `s` as a JSON string with stout's escaping (as
/// [`mesos_proto::json::write_string`]), copying unescaped runs whole.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| needs_escape(b)) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'/' => "\\/",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 || b == 0x7f => "",
            _ => continue,
        };
        // Every byte escaped is ASCII, so `i` is a char boundary.
        out.push_str(&s[start..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escaped);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Whether stout escapes byte `b` (all such bytes are ASCII).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b == b'/' || b == 0x7f
}

/// Writes a C++ double as a `serde_json` number holding it renders: stout's
/// `%#.15g` (see [`mesos_proto::json::format_double`]), `null` when it is
/// not finite.
pub fn write_dbl(out: &mut String, value: f64) {
    if !value.is_finite() {
        out.push_str("null");
        return;
    }
    if value == 0.0 {
        out.push_str(if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    // Integers of at most 15 digits print whole, with `.0`.
    if value.fract() == 0.0 && value.abs() < 1e15 {
        let _ = write!(out, "{}.0", value as i64);
        return;
    }
    // The shortest representation that reads back as `value`: when it
    // has at most 15 significant digits it is also what rounding the
    // exact value to 15 digits gives (a normal double's spacing is below
    // half of the 15-digit grid's), so `%.15g` prints these digits.
    // Subnormals have fewer bits: they take the exact path.
    if !value.is_normal() {
        out.push_str(&mesos_proto::json::format_double(value));
        return;
    }
    let mut buffer = StackBuf::default();
    if write!(buffer, "{value:e}").is_err() {
        out.push_str(&mesos_proto::json::format_double(value));
        return;
    }
    let text = buffer.as_str();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let Some((mantissa, exponent)) = text.split_once('e') else {
        out.push_str(&mesos_proto::json::format_double(value));
        return;
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        out.push_str(&mesos_proto::json::format_double(value));
        return;
    };
    let mut digits = [0u8; 24];
    let mut count = 0;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        if count == digits.len() {
            break;
        }
        digits[count] = b;
        count += 1;
    }
    // Trailing zeros are not significant (the shortest form has none but
    // the single `0` of a power of ten's mantissa never reaches here).
    while count > 1 && digits[count - 1] == b'0' {
        count -= 1;
    }
    if count > 15 {
        out.push_str(&mesos_proto::json::format_double(value));
        return;
    }
    let digits = &digits[..count];
    // Digits are ASCII.
    let digit_str = std::str::from_utf8(digits).unwrap_or("0");
    if negative {
        out.push('-');
    }
    if (-4..15).contains(&exponent) {
        if exponent >= 0 {
            let whole = exponent as usize + 1;
            if count <= whole {
                out.push_str(digit_str);
                for _ in count..whole {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digit_str[..whole]);
                out.push('.');
                out.push_str(&digit_str[whole..]);
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-exponent - 1) {
                out.push('0');
            }
            out.push_str(digit_str);
        }
    } else {
        out.push_str(&digit_str[..1]);
        out.push('.');
        if count > 1 {
            out.push_str(&digit_str[1..]);
        } else {
            out.push('0');
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.abs());
    }
}

/// Writes `value` as [`mesos_proto::json::render`] does.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                write_dbl(out, n.as_f64().unwrap_or_default());
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => array(out, |a| {
            for item in items {
                a.value(item);
            }
        }),
        Value::Object(fields) => object(out, |o| {
            for (key, item) in fields {
                o.value(key, item);
            }
        }),
    }
}

/// A fixed buffer for formatting one number without allocating.
struct StackBuf {
    bytes: [u8; 64],
    len: usize,
}

impl Default for StackBuf {
    fn default() -> Self {
        Self {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl StackBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dbl(value: f64) -> String {
        let mut out = String::new();
        write_dbl(&mut out, value);
        out
    }

    fn rendered(value: f64) -> String {
        mesos_proto::json::render(&mesos_proto::model::dbl(value))
    }

    #[test]
    fn doubles_print_as_render_prints_them() {
        let mut values = vec![
            0.0,
            -0.0,
            0.1,
            0.5,
            1.0,
            5.0,
            10240.0,
            1e-4,
            0.0001234,
            0.00001234,
            1e-5,
            123456789012345.0,
            1234567890123456.0,
            1e15,
            1e16,
            1e21,
            1e300,
            -1e-300,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            0.1 + 0.2,
            1764201234.123456,
            1764201234.5,
            999999999999999.9,
            99999999999999.99,
            0.30000000000000004,
            2.0 / 3.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        // A deterministic spread of bit patterns and decimal-ish values.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push(f64::from_bits(state));
            let scale = 10f64.powi((state % 40) as i32 - 20);
            values.push((state >> 11) as f64 / (1u64 << 53) as f64 * scale);
            values.push(((state >> 20) % 100_000) as f64 / 1000.0);
            values.push(1.7e9 + ((state >> 24) % 1_000_000_000) as f64 / 1e6);
        }
        for value in values {
            assert_eq!(dbl(value), rendered(value), "{value:e}");
        }
    }

    #[test]
    fn strings_escape_as_stout_does() {
        for s in [
            "",
            "plain",
            "a/b\"c\\d",
            "\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}",
            "ünïcødé ✓ 𝄞",
            "/",
            "x\u{0}y",
        ] {
            let mut out = String::new();
            write_str(&mut out, s);
            let mut expected = String::new();
            mesos_proto::json::write_string(&mut expected, s);
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn values_render_as_render_does() {
        let value = serde_json::json!({
            "a": [1, -2, 3.5, true, null, "s/t", {"b": {}}, []],
            "u": u64::MAX,
            "f": 0.1,
        });
        let mut out = String::new();
        write_value(&mut out, &value);
        assert_eq!(out, mesos_proto::json::render(&value));
    }
}
