//! Ages as `kubectl get` prints them: upstream's `duration.HumanDuration`
//! (k8s.io/apimachinery/pkg/util/duration) and the printers'
//! `translateTimestampSince`.

use std::time::{Duration, SystemTime};

use k8s_openapi::jiff::Timestamp;

/// Parses an RFC 3339 timestamp as found in `metadata.creationTimestamp`.
pub fn parse_timestamp(s: &str) -> Option<SystemTime> {
    let ts = s.parse::<Timestamp>().ok()?;
    let since_epoch = Duration::new(
        ts.as_second().unsigned_abs(),
        ts.subsec_nanosecond().unsigned_abs(),
    );
    if ts.as_second() >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(since_epoch)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(since_epoch)
    }
}

/// The age of `timestamp` at `now`, or `<unknown>` when there is none
/// (`translateTimestampSince`).
pub fn age_since(timestamp: Option<&str>, now: SystemTime) -> String {
    match timestamp.and_then(parse_timestamp) {
        Some(t) => human_since(t, now),
        None => "<unknown>".to_owned(),
    }
}

/// `HumanDuration(now - then)`; a moment in the future more than a second
/// away is `<invalid>` (clock skew of up to 2s counts as now).
pub fn human_since(then: SystemTime, now: SystemTime) -> String {
    match now.duration_since(then) {
        Ok(d) => human_duration(d),
        Err(e) if e.duration() < Duration::from_secs(2) => "0s".to_owned(),
        Err(_) => "<invalid>".to_owned(),
    }
}

/// Two significant units at most, coarser as the duration grows: `90s`,
/// `5m3s`, `45m`, `4h10m`, `20h`, `3d4h`, `30d`, `2y100d`, `9y`.
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_rest(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_rest(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return with_rest(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

/// `5m` when the remainder is zero, else `5m3s`.
fn with_rest(major: u64, major_unit: &str, minor: u64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_render_like_upstream() {
        let cases: [(u64, &str); 18] = [
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (9 * 60 + 59, "9m59s"),
            (10 * 60 + 30, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60 + 7, "3h5m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 59 * 60, "47h"),
            (48 * 3600, "2d"),
            (7 * 86400 + 23 * 3600, "7d23h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (2 * 365 * 86400 + 3 * 86400, "2y3d"),
            (8 * 365 * 86400 + 3 * 86400, "8y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(
                human_duration(Duration::from_secs(seconds)),
                want,
                "{seconds}s"
            );
        }
    }

    #[test]
    fn ages_since_a_timestamp() {
        let now = parse_timestamp("2024-01-02T00:00:00Z").unwrap_or(SystemTime::UNIX_EPOCH);
        let cases = [
            (Some("2024-01-01T23:55:00Z"), "5m"),
            (Some("2024-01-02T00:00:01Z"), "0s"),
            (Some("2024-01-02T00:00:05Z"), "<invalid>"),
            (Some("not a time"), "<unknown>"),
            (None, "<unknown>"),
        ];
        for (ts, want) in cases {
            assert_eq!(age_since(ts, now), want, "{ts:?}");
        }
    }
}
