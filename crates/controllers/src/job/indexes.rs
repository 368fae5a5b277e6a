//! Completion indexes of an Indexed Job and their compressed text form in
//! `status.completedIndexes` ("1,3-5,7"; upstream
//! `pkg/controller/job/indexed_job_utils.go`). Malformed parts of stored
//! text are skipped, as upstream does, rather than failing the sync.

use std::collections::BTreeSet;

/// The annotation (and label) carrying a pod's completion index.
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// The environment variable giving containers their index.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Parses "1,3-5" into {1,3,4,5}, keeping only indexes below `completions`.
pub fn parse(text: &str, completions: i32) -> BTreeSet<i32> {
    let mut set = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        let (Ok(first), Ok(last)) = (first, last) else {
            continue;
        };
        let last = last.min(completions.saturating_sub(1));
        if first < 0 || first > last {
            continue;
        }
        set.extend(first..=last);
    }
    set
}

/// Formats {1,3,4,5} as "1,3-5"; empty sets give `None`.
pub fn format(set: &BTreeSet<i32>) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i32, i32)> = None;
    for &i in set {
        run = match run {
            Some((first, last)) if last.checked_add(1) == Some(i) => Some((first, i)),
            Some(done) => {
                parts.push(range(done));
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    if let Some(done) = run {
        parts.push(range(done));
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

fn range((first, last): (i32, i32)) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_through_sets() {
        let cases = [
            ("", vec![], None),
            ("0", vec![0], Some("0")),
            ("1,3-5,7", vec![1, 3, 4, 5, 7], Some("1,3-5,7")),
            ("0,1,2", vec![0, 1, 2], Some("0-2")),
            ("3-1,x,-2,2", vec![2], Some("2")),
            ("8-20", vec![8, 9], Some("8-9")),
        ];
        for (text, want, formatted) in cases {
            let set = parse(text, 10);
            assert_eq!(set.iter().copied().collect::<Vec<_>>(), want, "{text:?}");
            assert_eq!(format(&set).as_deref(), formatted, "{text:?}");
        }
    }
}
