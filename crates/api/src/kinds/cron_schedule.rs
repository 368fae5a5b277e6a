//! A CronJob's `schedule`, parsed and stepped the way upstream does it with
//! robfig/cron v3's `ParseStandard` and `SpecSchedule.Next`
//! (`pkg/controller/cronjob/utils.go` hands every schedule to that library):
//! five fields (minute, hour, day of month, month, day of week) with `*`,
//! `?`, ranges, steps, lists and month/day names, the `@yearly` … `@hourly`
//! descriptors, and `@every <duration>`.
//!
//! Times are stepped in the CronJob's time zone on its wall clock, as robfig
//! does: days and months move by the calendar, hours and minutes by elapsed
//! time, so a time skipped by a daylight-saving jump does not fire that day
//! and a repeated hour fires twice.

use k8s_openapi::jiff::civil::DateTime;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp, ToSpan, Zoned};

/// Why a schedule could not be parsed; the messages are robfig's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The schedule is empty.
    #[error("empty spec string")]
    Empty,
    /// Not five fields.
    #[error("expected exactly 5 fields, found {found}: [{fields}]")]
    FieldCount {
        /// How many fields there were.
        found: usize,
        /// The fields, space separated.
        fields: String,
    },
    /// An `@` word robfig does not know.
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    /// `@every` with something that is not a Go duration.
    #[error("failed to parse duration {spec}: time: invalid duration \"{duration}\"")]
    Duration {
        /// The whole schedule.
        spec: String,
        /// The duration part.
        duration: String,
    },
    /// A number that is not one (Go's `strconv.Atoi` message) or is negative.
    #[error("{0}")]
    Number(String),
    /// A time zone prefix (`TZ=`, `CRON_TZ=`), which the API forbids in favour of `timeZone`.
    #[error("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")]
    ZonePrefix,
    /// One field part is malformed or out of range.
    #[error("{reason}: {expr}")]
    Range {
        /// What is wrong.
        reason: String,
        /// The offending part.
        expr: String,
    },
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Five cron fields (descriptors become these too).
    Fields(Fields),
    /// `@every`: a fixed delay, whole seconds, at least one.
    Every(SignedDuration),
}

/// The five fields as bit sets (bit `n` set: value `n` matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    minute: u64,
    hour: u64,
    day_of_month: u64,
    month: u64,
    day_of_week: u64,
    /// Day of month was `*` or `?` (robfig's star bit): then both day fields must match,
    /// otherwise either may.
    day_of_month_star: bool,
    day_of_week_star: bool,
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
/// Month names, index + 1 is the month.
const MONTH: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
/// Day names, index is the day (Sunday 0).
const DAY_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(spec: &str) -> Result<Self, ScheduleError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            return Err(ScheduleError::ZonePrefix);
        }
        if let Some(every) = spec.strip_prefix("@every ") {
            let nanos = go_duration_nanos(every.trim()).ok_or_else(|| ScheduleError::Duration {
                spec: spec.to_owned(),
                duration: every.trim().to_owned(),
            })?;
            // robfig's `Every`: at least a second, sub-second parts dropped.
            let seconds = i64::try_from(nanos / 1_000_000_000)
                .unwrap_or(i64::MAX)
                .max(1);
            return Ok(Schedule::Every(SignedDuration::from_secs(seconds)));
        }
        let spec = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(ScheduleError::Descriptor(other.to_owned()))
            }
            other => other,
        };
        let parts: Vec<&str> = spec.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = parts.as_slice() else {
            return Err(ScheduleError::FieldCount {
                found: parts.len(),
                fields: parts.join(" "),
            });
        };
        let (minute, _) = field(minute, &MINUTE)?;
        let (hour, _) = field(hour, &HOUR)?;
        let (day_of_month, day_of_month_star) = field(dom, &DAY_OF_MONTH)?;
        let (month, _) = field(month, &MONTH)?;
        let (day_of_week, day_of_week_star) = field(dow, &DAY_OF_WEEK)?;
        Ok(Schedule::Fields(Fields {
            minute,
            hour,
            day_of_month,
            month,
            day_of_week,
            day_of_month_star,
            day_of_week_star,
        }))
    }
}

/// A comma-separated field: its bits and whether a part was a plain `*`/`?`.
fn field(text: &str, bounds: &Bounds) -> Result<(u64, bool), ScheduleError> {
    let mut bits = 0;
    let mut star = false;
    for part in text.split(',') {
        let (part_bits, part_star) = range(part, bounds)?;
        bits |= part_bits;
        star |= part_star;
    }
    Ok((bits, star))
}

fn range_error(reason: String, expr: &str) -> ScheduleError {
    ScheduleError::Range {
        reason,
        expr: expr.to_owned(),
    }
}

/// One part: `*`, `?`, `a`, `a-b`, each with an optional `/step` (robfig's `getRange`).
fn range(expr: &str, bounds: &Bounds) -> Result<(u64, bool), ScheduleError> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step
        .first()
        .copied()
        .unwrap_or_default()
        .split('-')
        .collect();
    let (start, mut end, mut star) = match low_and_high.as_slice() {
        ["*" | "?"] => (bounds.min, bounds.max, true),
        [one] => {
            let v = number_or_name(one, bounds, expr)?;
            (v, v, false)
        }
        [low, high] => (
            number_or_name(low, bounds, expr)?,
            number_or_name(high, bounds, expr)?,
            false,
        ),
        _ => return Err(range_error("too many hyphens".into(), expr)),
    };
    let step = match range_and_step.as_slice() {
        [_] => 1,
        [_, step] => {
            let step = number(step, expr)?;
            // `N/step` means `N-max/step`.
            if low_and_high.len() == 1 {
                end = bounds.max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
        _ => return Err(range_error("too many slashes".into(), expr)),
    };
    if start < bounds.min {
        let reason = format!(
            "beginning of range ({start}) below minimum ({})",
            bounds.min
        );
        return Err(range_error(reason, expr));
    }
    if end > bounds.max {
        let reason = format!("end of range ({end}) above maximum ({})", bounds.max);
        return Err(range_error(reason, expr));
    }
    if start > end {
        let reason = format!("beginning of range ({start}) beyond end of range ({end})");
        return Err(range_error(reason, expr));
    }
    if step == 0 {
        return Err(range_error(
            "step of range should be a positive number".into(),
            expr,
        ));
    }
    let bits = (start..=end)
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .fold(0u64, |bits, v| bits | (1 << v));
    Ok((bits, star))
}

/// Go's `strconv.Atoi` plus robfig's sign check, with their messages.
fn number(text: &str, expr: &str) -> Result<u32, ScheduleError> {
    let atoi = |why: &str| {
        ScheduleError::Number(format!(
            "failed to parse int from {text}: strconv.Atoi: parsing \"{text}\": {why}"
        ))
    };
    let n: i64 = text.parse().map_err(|_| atoi("invalid syntax"))?;
    if n < 0 {
        return Err(ScheduleError::Number(format!(
            "negative number ({n}) not allowed: {expr}"
        )));
    }
    u32::try_from(n).map_err(|_| atoi("value out of range"))
}

fn number_or_name(text: &str, bounds: &Bounds, expr: &str) -> Result<u32, ScheduleError> {
    let lower = text.to_ascii_lowercase();
    match bounds.names.iter().position(|name| *name == lower) {
        Some(index) => Ok(u32::try_from(index).unwrap_or(0) + bounds.min),
        None => number(text, expr),
    }
}

/// A Go `time.ParseDuration` string (`1h30m`, `90s`, `1.5h`) in nanoseconds.
fn go_duration_nanos(text: &str) -> Option<i128> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let unit_nanos: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(unit_nanos)?;
        let mut scale = unit_nanos;
        for digit in fraction.chars() {
            scale /= 10;
            part += i128::from(digit.to_digit(10)?) * scale;
        }
        total = total.checked_add(part)?;
        rest = tail;
    }
    Some(if negative { -total } else { total })
}

/// Checks `schedule` for the apiserver's CronJob validation; the error is robfig/cron's
/// message. A `TZ=`/`CRON_TZ=` prefix is skipped here: validation reports it on its own.
pub(crate) fn check(schedule: &str) -> Result<(), String> {
    let spec = match schedule
        .strip_prefix("TZ=")
        .or(schedule.strip_prefix("CRON_TZ="))
    {
        Some(prefixed) => prefixed
            .split_once(' ')
            .map(|(_, rest)| rest.trim())
            .unwrap_or_default(),
        None => schedule,
    };
    if !schedule.is_empty() && spec.is_empty() {
        return Err(ScheduleError::Empty.to_string());
    }
    spec.parse::<Schedule>()
        .map(drop)
        .map_err(|e| e.to_string())
}

impl Schedule {
    /// The first activation strictly after `after`, on `zone`'s wall clock (robfig's `Next`);
    /// `None` if there is none within five years (e.g. `0 0 30 2 *`).
    pub fn next(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let subsec = SignedDuration::from_nanos(i64::from(after.subsec_nanosecond()));
        match self {
            Schedule::Every(delay) => after.checked_add(*delay - subsec).ok(),
            Schedule::Fields(fields) => {
                let start = after
                    .checked_add(SignedDuration::from_secs(1) - subsec)
                    .ok()?;
                fields.next(start.to_zoned(zone.clone()))
            }
        }
    }
}

fn has(bits: u64, value: i8) -> bool {
    u32::try_from(value).is_ok_and(|v| v < 64 && bits & (1 << v) != 0)
}

fn at(zone: &TimeZone, date: k8s_openapi::jiff::civil::Date, hour: i8) -> Option<Zoned> {
    DateTime::from_parts(
        date,
        k8s_openapi::jiff::civil::Time::new(hour, 0, 0, 0).ok()?,
    )
    .to_zoned(zone.clone())
    .ok()
}

impl Fields {
    fn day_matches(&self, t: &Zoned) -> bool {
        let dom = has(self.day_of_month, t.day());
        let dow = has(self.day_of_week, t.weekday().to_sunday_zero_offset());
        if self.day_of_month_star || self.day_of_week_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// robfig's `SpecSchedule.Next` from `t` (already on the next whole second).
    fn next(&self, mut t: Zoned) -> Option<Timestamp> {
        let zone = t.time_zone().clone();
        let year_limit = t.year().saturating_add(5);
        // Whether `t` was already moved to the start of a unit: then the lower units are zero.
        let mut added = false;
        'wrap: loop {
            if t.year() > year_limit {
                return None;
            }
            while !has(self.month, t.month()) {
                if !added {
                    added = true;
                    t = at(&zone, t.date().first_of_month(), 0)?;
                }
                t = at(&zone, t.date().checked_add(1.month()).ok()?, 0)?;
                if t.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(&t) {
                if !added {
                    added = true;
                    t = at(&zone, t.date(), 0)?;
                }
                t = at(&zone, t.date().checked_add(1.day()).ok()?, 0)?;
                if t.day() == 1 {
                    continue 'wrap;
                }
            }
            while !has(self.hour, t.hour()) {
                if !added {
                    added = true;
                    t = at(&zone, t.date(), t.hour())?;
                }
                t = t.checked_add(SignedDuration::from_hours(1)).ok()?;
                if t.hour() == 0 {
                    continue 'wrap;
                }
            }
            while !has(self.minute, t.minute()) {
                if !added {
                    added = true;
                    let seconds = SignedDuration::from_secs(i64::from(t.second()));
                    t = t.checked_sub(seconds).ok()?;
                }
                t = t.checked_add(SignedDuration::from_mins(1)).ok()?;
                if t.minute() == 0 {
                    continue 'wrap;
                }
            }
            // `ParseStandard` fixes the seconds field at 0.
            while t.second() != 0 {
                added = true;
                t = t.checked_add(SignedDuration::from_secs(1)).ok()?;
                if t.second() == 0 {
                    continue 'wrap;
                }
            }
            return Some(t.timestamp());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn schedules_parse_like_robfig_parse_standard() {
        let cases: &[(&str, Result<(), &str>)] = &[
            ("*/5 * * * *", Ok(())),
            ("0 0 * * MON-FRI", Ok(())),
            ("0 0 1 jan,jul ?", Ok(())),
            ("@hourly", Ok(())),
            ("@every 1h30m", Ok(())),
            ("", Err("empty spec string")),
            ("* * *", Err("expected exactly 5 fields, found 3: [* * *]")),
            (
                "60 * * * *",
                Err("end of range (60) above maximum (59): 60"),
            ),
            (
                "* * 0 * *",
                Err("beginning of range (0) below minimum (1): 0"),
            ),
            (
                "5-1 * * * *",
                Err("beginning of range (5) beyond end of range (1): 5-1"),
            ),
            (
                "*/0 * * * *",
                Err("step of range should be a positive number: */0"),
            ),
            ("1-2-3 * * * *", Err("too many hyphens: 1-2-3")),
            (
                "x * * * *",
                Err("failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"),
            ),
            ("@fortnightly", Err("unrecognized descriptor: @fortnightly")),
            (
                "@every soon",
                Err("failed to parse duration @every soon: time: invalid duration \"soon\""),
            ),
            (
                "TZ=UTC 0 * * * *",
                Err("cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
            ),
        ];
        for (spec, want) in cases {
            let got = spec
                .parse::<Schedule>()
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_owned), "{spec:?}");
        }
    }

    #[test]
    fn the_next_activation_follows_the_fields_in_utc() {
        let cases = [
            (
                "*/1 * * * *",
                "2024-03-01T10:00:00Z",
                "2024-03-01T10:01:00Z",
            ),
            (
                "*/1 * * * *",
                "2024-03-01T10:00:30.5Z",
                "2024-03-01T10:01:00Z",
            ),
            (
                "*/15 * * * *",
                "2024-03-01T10:16:00Z",
                "2024-03-01T10:30:00Z",
            ),
            (
                "30 6-16/4 * * 1-5",
                "2024-03-01T07:00:00Z",
                "2024-03-01T10:30:00Z",
            ),
            (
                "30 6-16/4 * * 1-5",
                "2024-03-01T15:00:00Z",
                "2024-03-04T06:30:00Z",
            ),
            (
                "0 0 1 jan *",
                "2024-03-01T00:00:00Z",
                "2025-01-01T00:00:00Z",
            ),
            ("@hourly", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"),
            ("@weekly", "2024-03-01T00:00:00Z", "2024-03-03T00:00:00Z"),
            ("@monthly", "2024-01-31T12:00:00Z", "2024-02-01T00:00:00Z"),
            ("0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
            // Both day fields restricted: either matches (the 13th or a Friday).
            ("0 0 13 * 5", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z"),
            // Day of week `*`: only the day of month counts.
            ("0 0 13 * *", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00Z"),
            (
                "@every 90s",
                "2024-03-01T10:00:00.25Z",
                "2024-03-01T10:01:30Z",
            ),
        ];
        for (spec, after, want) in cases {
            let schedule: Schedule = spec.parse().unwrap();
            assert_eq!(
                schedule.next(ts(after), &TimeZone::UTC),
                Some(ts(want)),
                "{spec} after {after}"
            );
        }
    }

    #[test]
    fn a_date_that_never_comes_has_no_next_activation() {
        let schedule: Schedule = "0 0 30 2 *".parse().unwrap();
        assert_eq!(
            schedule.next(ts("2024-01-01T00:00:00Z"), &TimeZone::UTC),
            None
        );
    }

    #[test]
    fn activations_follow_the_wall_clock_across_daylight_saving_changes() {
        // A fixed-offset zone shifts every activation.
        let plus_two = TimeZone::fixed(k8s_openapi::jiff::tz::offset(2));
        let daily: Schedule = "0 9 * * *".parse().unwrap();
        assert_eq!(
            daily.next(ts("2024-03-01T00:00:00Z"), &plus_two),
            Some(ts("2024-03-01T07:00:00Z"))
        );
        // America/New_York from the system database, when the machine has one.
        let Ok(tzif) = std::fs::read("/usr/share/zoneinfo/America/New_York") else {
            return;
        };
        let new_york = TimeZone::tzif("America/New_York", &tzif).unwrap();
        let cases = [
            // 09:00 EST is 14:00Z; after the March jump 09:00 EDT is 13:00Z.
            ("0 9 * * *", "2024-03-09T15:00:00Z", "2024-03-10T13:00:00Z"),
            // 02:30 does not exist on 10 March: skipped to the next day.
            ("30 2 * * *", "2024-03-09T08:00:00Z", "2024-03-11T06:30:00Z"),
            // 01:30 happens twice on 3 November: both fire.
            ("30 1 * * *", "2024-11-03T04:00:00Z", "2024-11-03T05:30:00Z"),
            ("30 1 * * *", "2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z"),
        ];
        for (spec, after, want) in cases {
            let schedule: Schedule = spec.parse().unwrap();
            assert_eq!(
                schedule.next(ts(after), &new_york),
                Some(ts(want)),
                "{spec} after {after}"
            );
        }
    }

    #[test]
    fn validation_skips_a_zone_prefix_and_passes_parse_errors_through() {
        // Every parse case is in `schedules_parse_like_robfig_parse_standard`; `check` adds
        // only the prefix handling (validation reports the prefix itself).
        let cases = [
            ("CRON_TZ=UTC 0 * * * *", Ok(())),
            ("TZ=UTC @hourly", Ok(())),
            ("*/5 * * * *", Ok(())),
            ("", Err("empty spec string")),
            (
                "TZ=UTC 60 * * * *",
                Err("end of range (60) above maximum (59): 60"),
            ),
            ("@fortnightly", Err("unrecognized descriptor: @fortnightly")),
        ];
        for (schedule, want) in cases {
            assert_eq!(check(schedule), want.map_err(str::to_owned), "{schedule}");
        }
    }
}
