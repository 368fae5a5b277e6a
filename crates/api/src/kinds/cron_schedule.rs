//! Checking a CronJob's `schedule` the way upstream does, with
//! robfig/cron v3's `ParseStandard` (five fields or a `@descriptor`) and
//! its error messages.

/// The bounds and names of one schedule field.
struct Field {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MONTHS: [(&str, u32); 12] = [
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];
const DAYS: [(&str, u32); 7] = [
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];

/// Minute, hour, day of month, month, day of week.
const FIELDS: [Field; 5] = [
    Field {
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        min: 0,
        max: 6,
        names: &DAYS,
    },
];

const DESCRIPTORS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Go's `strconv.Atoi` plus robfig's sign check.
fn parse_int(expr: &str) -> Result<u32, String> {
    let n: i64 = expr.parse().map_err(|_| {
        format!("failed to parse int from {expr}: strconv.Atoi: parsing \"{expr}\": invalid syntax")
    })?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    u32::try_from(n).map_err(|_| {
        format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing \"{expr}\": value out of range"
        )
    })
}

fn parse_int_or_name(expr: &str, field: &Field) -> Result<u32, String> {
    let lower = expr.to_ascii_lowercase();
    match field.names.iter().find(|(n, _)| *n == lower) {
        Some((_, v)) => Ok(*v),
        None => parse_int(expr),
    }
}

/// One comma-separated part: `*`, `?`, `a`, `a-b`, each with an optional
/// `/step` (robfig's `getRange`).
fn check_range(expr: &str, field: &Field) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step
        .first()
        .copied()
        .unwrap_or_default()
        .split('-')
        .collect();
    let (start, mut end) = match low_and_high.as_slice() {
        ["*" | "?"] => (field.min, field.max),
        [one] => {
            let v = parse_int_or_name(one, field)?;
            (v, v)
        }
        [low, high] => (
            parse_int_or_name(low, field)?,
            parse_int_or_name(high, field)?,
        ),
        _ => return Err(format!("too many hyphens: {expr}")),
    };
    let step = match range_and_step.as_slice() {
        [_] => 1,
        [_, step] => {
            let step = parse_int(step)?;
            // `N/step` means `N-max/step`.
            if low_and_high.len() == 1 {
                end = field.max;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < field.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            field.min
        ));
    }
    if end > field.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            field.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

/// A Go duration like `1h30m` (for `@every`).
fn is_go_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(*u))
            .max_by_key(|u| u.len());
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

/// Checks `schedule`; the error is robfig/cron's message.
pub(crate) fn check(schedule: &str) -> Result<(), String> {
    if schedule.is_empty() {
        return Err("empty spec string".to_owned());
    }
    let mut spec = schedule;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        spec = spec
            .split_once(' ')
            .map(|(_, rest)| rest.trim())
            .unwrap_or_default();
    }
    if spec.starts_with('@') {
        if let Some(d) = spec.strip_prefix("@every ") {
            return if is_go_duration(d.trim()) {
                Ok(())
            } else {
                Err(format!(
                    "failed to parse duration {spec}: time: invalid duration \"{}\"",
                    d.trim()
                ))
            };
        }
        return if DESCRIPTORS.contains(&spec) {
            Ok(())
        } else {
            Err(format!("unrecognized descriptor: {spec}"))
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (text, field) in fields.iter().zip(FIELDS.iter()) {
        for part in text.split(',') {
            check_range(part, field)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_check_like_robfig_cron() {
        let cases = [
            ("*/5 * * * *", Ok(())),
            ("0 0 * * MON-FRI", Ok(())),
            ("0 0 1 jan,jul ?", Ok(())),
            ("@hourly", Ok(())),
            ("@every 1h30m", Ok(())),
            ("CRON_TZ=UTC 0 * * * *", Ok(())),
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
            (
                "x * * * *",
                Err("failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"),
            ),
            ("@fortnightly", Err("unrecognized descriptor: @fortnightly")),
        ];
        for (schedule, want) in cases {
            assert_eq!(check(schedule), want.map_err(str::to_owned), "{schedule}");
        }
    }
}
