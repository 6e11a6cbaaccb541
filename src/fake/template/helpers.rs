//! Template helpers: time, ids, a seeded random source, fake data, and bytes.
//!
//! Everything random is drawn from the call's own generator, seeded from the server's seed and
//! the call's sequence number, so a run with `--seed N` replays the same values for the same
//! calls in the same order. `now()` reads the call's clock, frozen with `--clock`.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use minijinja::{Environment, State, Value, value::Object};

/// The variable under which a context carries its [`CallEnv`].
pub(crate) const ENV_VAR: &str = "__grpc_double_env";

/// The names templates may call, besides minijinja's own.
pub(crate) const FUNCTIONS: &[&str] = &[
    "now",
    "now_unix",
    "now_unix_ms",
    "uuid",
    "random",
    "random_float",
    "random_string",
    "random_choice",
    "fake_name",
    "fake_first_name",
    "fake_last_name",
    "fake_email",
    "fake_company",
    "fake_city",
    "fake_word",
    "fake_sentence",
    "zeros",
    "repeat_bytes",
    "bytes",
];

/// A small, fast, reproducible generator (SplitMix64).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An integer in `[lo, hi]`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (u128::from(self.next_u64()) % span) as i128) as i64
    }
}

/// What the helpers of one call read: its clock, its random source and where it came from.
#[derive(Debug)]
pub(crate) struct CallEnv {
    /// The server-wide call number, from 1.
    pub(crate) seq: u64,
    /// The call's time (the frozen clock, when set).
    pub(crate) now: SystemTime,
    pub(crate) rng: Mutex<SplitMix>,
    /// The listener that took the call, e.g. `127.0.0.1:50051`, and its index (written out
    /// only when a template reads it).
    pub(crate) listener: Option<SocketAddr>,
    pub(crate) listener_index: usize,
    /// The client's address.
    pub(crate) peer: Option<SocketAddr>,
}

impl CallEnv {
    pub(crate) fn new(seq: u64, seed: u64, now: SystemTime) -> Self {
        Self {
            seq,
            now,
            rng: Mutex::new(SplitMix::new(
                seed ^ seq.wrapping_mul(0xA076_1D64_78BD_642F),
            )),
            listener: None,
            listener_index: 0,
            peer: None,
        }
    }

    /// A draw in `[0, 1)` from the call's random source.
    pub(crate) fn draw(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_f64()
    }

    fn with_rng<R>(&self, f: impl FnOnce(&mut SplitMix) -> R) -> R {
        f(&mut self.rng.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Object for CallEnv {}

fn env(state: &State<'_, '_>) -> Option<Arc<CallEnv>> {
    state.lookup(ENV_VAR)?.downcast_object::<CallEnv>()
}

fn unix(now: SystemTime) -> Duration {
    now.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// RFC 3339 UTC time with milliseconds, e.g. `2024-05-01T12:00:00.000Z`.
pub(crate) fn rfc3339(now: SystemTime) -> String {
    let since = unix(now);
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 3339 UTC time (`2024-05-01T12:00:00Z`, fractions allowed) for `--clock`.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let t = text.trim();
    let t = t.strip_suffix('Z').or_else(|| t.strip_suffix("+00:00"))?;
    let (date, time) = t.split_once(['T', ' '])?;
    let mut date = date.split('-');
    let y: i64 = date.next()?.parse().ok()?;
    let m: i64 = date.next()?.parse().ok()?;
    let d: i64 = date.next()?.parse().ok()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut hms = hms.split(':');
    let (h, min, s): (u64, u64, u64) = (
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    // Days from civil (the inverse of `civil_from_days`).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400).ok()? + h * 3600 + min * 60 + s;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}")[..9].parse().ok()?
    };
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Barbara", "Claude", "Dennis", "Donald", "Edsger", "Frances", "Grace", "Hedy",
    "Ivan", "John", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Shafi", "Tim", "Yukihiro",
];
const LAST_NAMES: &[&str] = &[
    "Allen",
    "Backus",
    "Berners-Lee",
    "Dijkstra",
    "Hamilton",
    "Hopper",
    "Kay",
    "Knuth",
    "Lamarr",
    "Lamport",
    "Liskov",
    "Lovelace",
    "Matsumoto",
    "Perlman",
    "Ritchie",
    "Shannon",
    "Sutherland",
    "Thompson",
    "Turing",
    "Wirth",
];
const COMPANIES: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
];
const CITIES: &[&str] = &[
    "Amsterdam",
    "Berlin",
    "Buenos Aires",
    "Cairo",
    "Lagos",
    "Lisbon",
    "Nairobi",
    "Oslo",
    "Seoul",
    "Toronto",
];
const WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa",
];

fn pick(env: &Arc<CallEnv>, list: &[&'static str]) -> &'static str {
    let i = env.with_rng(|rng| rng.next_u64()) as usize % list.len();
    list[i]
}

fn missing_env() -> minijinja::Error {
    minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        "this helper needs a call (it is not available here)",
    )
}

/// Registers every helper in `env`.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_function(
        "now",
        |state: &State<'_, '_>| -> Result<String, minijinja::Error> {
            Ok(rfc3339(env_of(state)?.now))
        },
    );
    env.add_function(
        "now_unix",
        |state: &State<'_, '_>| -> Result<u64, minijinja::Error> {
            Ok(unix(env_of(state)?.now).as_secs())
        },
    );
    env.add_function(
        "now_unix_ms",
        |state: &State<'_, '_>| -> Result<u64, minijinja::Error> {
            Ok(unix(env_of(state)?.now).as_millis() as u64)
        },
    );
    env.add_function(
        "uuid",
        |state: &State<'_, '_>| -> Result<String, minijinja::Error> {
            let env = env_of(state)?;
            let (a, b) = env.with_rng(|rng| (rng.next_u64(), rng.next_u64()));
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&a.to_be_bytes());
            bytes[8..].copy_from_slice(&b.to_be_bytes());
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            Ok(format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            ))
        },
    );
    env.add_function(
        "random",
        |state: &State<'_, '_>,
         lo: Option<i64>,
         hi: Option<i64>|
         -> Result<i64, minijinja::Error> {
            let (lo, hi) = match (lo, hi) {
                (Some(lo), Some(hi)) => (lo, hi),
                (Some(hi), None) => (0, hi),
                _ => (0, i64::from(i32::MAX)),
            };
            Ok(env_of(state)?.with_rng(|rng| rng.range(lo, hi)))
        },
    );
    env.add_function(
        "random_float",
        |state: &State<'_, '_>| -> Result<f64, minijinja::Error> { Ok(env_of(state)?.draw()) },
    );
    env.add_function(
        "random_string",
        |state: &State<'_, '_>, len: Option<usize>| -> Result<String, minijinja::Error> {
            const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
            let env = env_of(state)?;
            let len = len.unwrap_or(8).min(4096);
            Ok(env.with_rng(|rng| {
                (0..len)
                    .map(|_| ALPHABET[rng.next_u64() as usize % ALPHABET.len()] as char)
                    .collect()
            }))
        },
    );
    env.add_function(
        "random_choice",
        |state: &State<'_, '_>, items: Value| -> Result<Value, minijinja::Error> {
            let items: Vec<Value> = items.try_iter()?.collect();
            if items.is_empty() {
                return Ok(Value::UNDEFINED);
            }
            let i = env_of(state)?.with_rng(|rng| rng.next_u64()) as usize % items.len();
            Ok(items[i].clone())
        },
    );
    macro_rules! fake {
        ($name:literal, $list:expr) => {
            env.add_function(
                $name,
                |state: &State<'_, '_>| -> Result<&'static str, minijinja::Error> {
                    Ok(pick(&env_of(state)?, $list))
                },
            );
        };
    }
    fake!("fake_first_name", FIRST_NAMES);
    fake!("fake_last_name", LAST_NAMES);
    fake!("fake_company", COMPANIES);
    fake!("fake_city", CITIES);
    fake!("fake_word", WORDS);
    env.add_function(
        "fake_name",
        |state: &State<'_, '_>| -> Result<String, minijinja::Error> {
            let env = env_of(state)?;
            Ok(format!(
                "{} {}",
                pick(&env, FIRST_NAMES),
                pick(&env, LAST_NAMES)
            ))
        },
    );
    env.add_function(
        "fake_email",
        |state: &State<'_, '_>| -> Result<String, minijinja::Error> {
            let env = env_of(state)?;
            let first = pick(&env, FIRST_NAMES).to_ascii_lowercase();
            let last = pick(&env, LAST_NAMES).to_ascii_lowercase().replace('-', "");
            let n = env.with_rng(|rng| rng.range(1, 99));
            Ok(format!("{first}.{last}{n}@example.com"))
        },
    );
    env.add_function(
        "fake_sentence",
        |state: &State<'_, '_>, words: Option<usize>| -> Result<String, minijinja::Error> {
            let env = env_of(state)?;
            let words: Vec<&str> = (0..words.unwrap_or(6).clamp(1, 100))
                .map(|_| pick(&env, WORDS))
                .collect();
            let mut sentence = words.join(" ");
            if let Some(first) = sentence.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            sentence.push('.');
            Ok(sentence)
        },
    );
    env.add_function("zeros", |n: usize| -> Result<Value, minijinja::Error> {
        Ok(Value::from_bytes(vec![0; n.min(MAX_BYTES)]))
    });
    env.add_function(
        "repeat_bytes",
        |pattern: Value, n: usize| -> Result<Value, minijinja::Error> {
            let pattern: Vec<u8> = match pattern.as_bytes() {
                Some(b) => b.to_vec(),
                None => pattern.to_string().into_bytes(),
            };
            if pattern.is_empty() {
                return Ok(Value::from_bytes(Vec::new()));
            }
            let n = n.min(MAX_BYTES);
            Ok(Value::from_bytes(
                pattern.iter().copied().cycle().take(n).collect(),
            ))
        },
    );
    env.add_function("bytes", |text: String| -> Result<Value, minijinja::Error> {
        Ok(Value::from_bytes(text.into_bytes()))
    });
    env.add_filter(
        "b64encode",
        |value: Value| -> Result<String, minijinja::Error> {
            use base64::Engine as _;
            let bytes = match value.as_bytes() {
                Some(b) => b.to_vec(),
                None => value.to_string().into_bytes(),
            };
            Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
        },
    );
    env.add_filter(
        "b64decode",
        |text: String| -> Result<Value, minijinja::Error> {
            crate::schema::decode_base64(&text)
                .map(|b| Value::from_bytes(b.to_vec()))
                .ok_or_else(|| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "not base64")
                })
        },
    );
}

/// The most bytes `zeros` and `repeat_bytes` make (64 MiB).
const MAX_BYTES: usize = 64 << 20;

fn env_of(state: &State<'_, '_>) -> Result<Arc<CallEnv>, minijinja::Error> {
    env(state).ok_or_else(missing_env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_and_parse_as_rfc3339() {
        let t = parse_rfc3339("2024-05-01T12:34:56.5Z").unwrap();
        assert_eq!(rfc3339(t), "2024-05-01T12:34:56.500Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z").map(rfc3339).unwrap(),
            "2000-02-29T00:00:00.000Z"
        );
        assert!(parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn the_generator_is_reproducible() {
        let mut a = SplitMix::new(7);
        let mut b = SplitMix::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        assert!((0..1000).all(|_| (0..=9).contains(&a.range(0, 9))));
    }
}
