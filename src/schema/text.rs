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
}
