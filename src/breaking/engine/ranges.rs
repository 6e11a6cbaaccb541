//! Number ranges (reserved and extension ranges of messages and enums) and reserved names, and
//! buf's reports of ranges that lost values and of reserved names that were deleted.

use std::collections::BTreeSet;

use crate::breaking::finding::{Findings, Location};

/// Largest field number, and the larger one of message-set messages.
pub(crate) const MESSAGE_MAX: i64 = 536_870_911;
pub(crate) const MESSAGE_SET_MAX: i64 = 2_147_483_646;
/// Largest enum number.
pub(crate) const ENUM_MAX: i64 = 2_147_483_647;

/// Inclusive ranges, sorted and merged when overlapping or adjacent.
pub(crate) fn collapse(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// The parts of `start..=end` not covered by the collapsed `ranges`.
pub(crate) fn missing(start: i64, end: i64, ranges: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut next = start;
    for &(s, e) in ranges {
        if e < next {
            continue;
        }
        if s > end {
            break;
        }
        if s > next {
            out.push((next, s - 1));
        }
        next = e + 1;
        if next > end {
            return out;
        }
    }
    if next <= end {
        out.push((next, end));
    }
    out
}

pub(crate) fn range_string(start: i64, end: i64, max: i64) -> String {
    if start == end {
        format!("[{start}]")
    } else if end == max {
        format!("[{start},max]")
    } else {
        format!("[{start},{end}]")
    }
}

/// Reports ranges of `previous` that `current` no longer covers (buf's wording).
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_ranges(
    range_kind: &str,
    element_kind: &str,
    element_name: &str,
    max: i64,
    previous: Vec<(i64, i64)>,
    current: Vec<(i64, i64)>,
    locs: (Location, Location),
    out: &mut Findings,
) {
    let current = collapse(current);
    for (start, end) in previous {
        let gone = missing(start, end, &current);
        if gone.is_empty() {
            continue;
        }
        let removed: Vec<String> = gone.iter().map(|&(s, e)| range_string(s, e, max)).collect();
        out.push(
            Some(locs.1.clone()),
            Some(locs.0.clone()),
            format!(
                "Previously present {range_kind} range \"{}\" on {element_kind} \"{element_name}\" is missing values: {} were removed.",
                range_string(start, end, max),
                removed.join(", ")
            ),
        )
        .hint(format!(
            "restore the {range_kind} range {}",
            range_string(start, end, max)
        ));
    }
}

/// Reports reserved names of `previous` that `current` no longer reserves (buf's wording); the
/// hint is `restore reserved "name";` followed by `why`.
pub(crate) fn check_reserved_names<'a>(
    element_kind: &str,
    element_name: &str,
    previous: impl Iterator<Item = &'a str>,
    current: impl Iterator<Item = &'a str>,
    locs: (Location, Location),
    why: &str,
    out: &mut Findings,
) {
    let current: BTreeSet<&str> = current.collect();
    for name in previous.collect::<BTreeSet<_>>() {
        if !current.contains(name) {
            out.push(
                Some(locs.1.clone()),
                Some(locs.0.clone()),
                format!(
                    "Previously present reserved name \"{name}\" on {element_kind} \"{element_name}\" was deleted."
                ),
            )
            .hint(format!("restore reserved \"{name}\";{why}"));
        }
    }
}
