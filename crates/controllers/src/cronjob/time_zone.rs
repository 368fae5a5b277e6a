//! A CronJob's `timeZone`: an IANA name looked up in the system time zone
//! database, as Go's `time.LoadLocation` does for upstream (the `ZONEINFO`
//! directory first, then the usual system directories).

use std::path::PathBuf;

use k8s_openapi::jiff::tz::TimeZone;

/// Where `time.LoadLocation` looks on Unix, in order.
const SYSTEM_DIRS: [&str; 3] = [
    "/usr/share/zoneinfo",
    "/usr/share/lib/zoneinfo",
    "/usr/lib/locale/TZ",
];

/// Why a time zone could not be loaded (the text follows Go's).
#[derive(Debug, thiserror::Error)]
pub enum TimeZoneError {
    /// The name is empty, absolute or climbs directories.
    #[error("time: invalid location name")]
    InvalidName,
    /// No database has it.
    #[error("unknown time zone {0}")]
    Unknown(String),
    /// A file was found but is not TZif data.
    #[error("malformed time zone information for {name}")]
    Malformed {
        /// The zone.
        name: String,
        /// The parse error.
        #[source]
        source: k8s_openapi::jiff::Error,
    },
}

/// Loads the zone called `name` (`UTC` needs no database).
pub fn load(name: &str) -> Result<TimeZone, TimeZoneError> {
    if name == "UTC" || name == "Etc/UTC" {
        return Ok(TimeZone::UTC);
    }
    if !is_valid_name(name) {
        return Err(TimeZoneError::InvalidName);
    }
    let dirs = std::env::var_os("ZONEINFO")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_DIRS.iter().map(PathBuf::from));
    for dir in dirs {
        if let Ok(data) = std::fs::read(dir.join(name)) {
            return TimeZone::tzif(name, &data).map_err(|source| TimeZoneError::Malformed {
                name: name.to_owned(),
                source,
            });
        }
    }
    Err(TimeZoneError::Unknown(name.to_owned()))
}

/// Go's `containsDotDot` and absolute-path checks, plus plain characters only: the name
/// becomes a path under the database directory and must stay inside it.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != ".." && part != ".")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_database_are_refused() {
        let cases = [
            ("Europe/Berlin", true),
            ("America/Argentina/Buenos_Aires", true),
            ("Etc/GMT+5", true),
            ("", false),
            ("/etc/passwd", false),
            ("../../etc/passwd", false),
            ("Europe/../../x", false),
            ("Europe//Berlin", false),
            ("Europe/Ber lin", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_valid_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn unknown_and_invalid_zones_are_errors_and_utc_always_loads() {
        assert!(matches!(
            load("Mars/Olympus_Mons"),
            Err(TimeZoneError::Unknown(_))
        ));
        assert!(matches!(load("../x"), Err(TimeZoneError::InvalidName)));
        assert!(load("UTC").is_ok());
    }
}
