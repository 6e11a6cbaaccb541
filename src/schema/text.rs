//! Scalars written as text, the proto3 JSON way: integers (decimal, hex, or integral floats such
//! as `1e3`), floats with their special values (`NaN`, `Infinity`, YAML's `.inf`), and bytes as
//! base64 (standard or URL-safe, padded or not).
//!
//! Fixtures (YAML scalars) and template results (text a template produced) are read with the same
//! rules, so a value means the same thing wherever it is written.

/// Integers: decimal, `0x` hex, or an integral float such as `1e3` (the JSON mapping allows it).
pub(crate) fn parse_int(text: &str) -> Option<i128> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let magnitude = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i128::from_str_radix(hex, 16).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i128>().ok()?
    } else {
        let f = digits.parse::<f64>().ok()?;
        if !f.is_finite() || f.fract() != 0.0 || f.abs() > 1.8e19 {
            return None;
        }
        f as i128
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Floats: decimal, exponent, and the special values of both YAML and proto3 JSON.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    match text.trim() {
        "NaN" | ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        "Infinity" | ".inf" | ".Inf" | ".INF" | "+.inf" => Some(f64::INFINITY),
        "-Infinity" | "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        t => t
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() || t.contains("inf")),
    }
}

/// Standard or URL-safe base64, padded or not.
pub(crate) fn decode_base64(text: &str) -> Option<bytes::Bytes> {
    use base64::{
        Engine as _,
        engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
    };
    let t = text.trim();
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(t).ok())
        .map(bytes::Bytes::from)
}

/// Parses a duration: `250ms`, `1.5s`, `2m`, `100us`; a bare number is milliseconds.
///
/// The syntax of every delay in fixtures and every duration flag of the command line.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(grpc_double::parse_duration("1.5s"), Some(Duration::from_millis(1500)));
/// assert_eq!(grpc_double::parse_duration("250"), Some(Duration::from_millis(250)));
/// assert_eq!(grpc_double::parse_duration("soon"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "us" | "µs" => n / 1e6,
        "ns" => n / 1e9,
        _ => return None,
    };
    std::time::Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_take_every_json_spelling() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("-0x10"), Some(-16));
        assert_eq!(parse_int("1e3"), Some(1000));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_float(".inf"), Some(f64::INFINITY));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(decode_base64("aGVsbG8").as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn durations_take_units() {
        use std::time::Duration;
        assert_eq!(parse_duration("5ms"), Some(Duration::from_millis(5)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("100us"), Some(Duration::from_micros(100)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("-1s"), None);
    }
}
