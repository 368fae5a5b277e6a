//! Container logs in the CRI format containerd writes
//! (`<RFC3339Nano> <stdout|stderr> <F|P> <text>`, one record a line; `P`
//! marks a partial line continued by the next record), and the options of
//! `kubectl logs`: tail, since, timestamps, byte limit
//! (upstream `pkg/kubelet/kuberuntime/logs/logs.go`).
//!
//! Pure: bytes in, bytes out. The server reads the files.

use k8s_openapi::jiff::Timestamp;

/// Upstream keeps at most this many trailing lines for the
/// FallbackToLogsOnError termination message (`pkg/kubelet/kuberuntime`).
pub const FALLBACK_MESSAGE_LINES: usize = 80;

/// One whole log line (partial records joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When its first record was written.
    pub time: Timestamp,
    /// That time as containerd wrote it (shown with `timestamps=true`).
    pub time_text: String,
    /// The text including its trailing newline (none if the line is still
    /// partial at the end of the file).
    pub text: Vec<u8>,
}

/// Which lines and how many bytes a request wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last this many lines (`tailLines`).
    pub tail_lines: Option<usize>,
    /// Only lines written at or after this time (`sinceSeconds`/`sinceTime`).
    pub since: Option<Timestamp>,
    /// Prefix each line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// Stop after this many bytes (`limitBytes`).
    pub limit_bytes: Option<usize>,
}

/// Splits complete records off a byte buffer and joins partial ones: the
/// state carried from one chunk of a followed file to the next.
#[derive(Debug, Default)]
pub struct LogParser {
    pending: Vec<u8>,
    partial: Option<LogLine>,
}

impl LogParser {
    /// A parser at the start of a file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the lines they complete. Malformed records are
    /// skipped, as upstream's parser does after logging them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<LogLine> {
        self.pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(offset) = self
            .pending
            .get(start..)
            .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
        {
            let end = start + offset;
            if let Some(record) = self.pending.get(start..end).and_then(parse_record) {
                if let Some(line) = join(&mut self.partial, record) {
                    lines.push(line);
                }
            }
            start = end + 1;
        }
        self.pending.drain(..start);
        lines
    }

    /// A partial line still waiting for its end (shown when the file ends).
    pub fn take_partial(&mut self) -> Option<LogLine> {
        self.partial.take()
    }
}

/// Adds a record to the line in progress; returns the line it completes.
fn join(partial: &mut Option<LogLine>, record: Record<'_>) -> Option<LogLine> {
    let mut line = match partial.take() {
        Some(mut line) => {
            line.text.extend_from_slice(record.text);
            line
        }
        None => LogLine {
            time: record.time,
            time_text: record.time_text.to_string(),
            text: record.text.to_vec(),
        },
    };
    if record.partial {
        *partial = Some(line);
        None
    } else {
        line.text.push(b'\n');
        Some(line)
    }
}

struct Record<'a> {
    time: Timestamp,
    time_text: &'a str,
    partial: bool,
    text: &'a [u8],
}

/// `<time> <stream> <tag> <text>`; the text may be empty.
fn parse_record(record: &[u8]) -> Option<Record<'_>> {
    let mut fields = record.splitn(4, |b| *b == b' ');
    let time_text = std::str::from_utf8(fields.next()?).ok()?;
    let time: Timestamp = time_text.parse().ok()?;
    let stream = fields.next()?;
    if stream != b"stdout" && stream != b"stderr" {
        return None;
    }
    let partial = match fields.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(Record {
        time,
        time_text,
        partial,
        text: fields.next().unwrap_or_default(),
    })
}

/// Every whole line of a log file's content, then a trailing partial one.
pub fn parse_all(content: &[u8]) -> Vec<LogLine> {
    let mut parser = LogParser::new();
    let mut lines = parser.feed(content);
    lines.extend(parser.take_partial());
    lines
}

impl LogOptions {
    /// The lines of a finished read: `since` first, then the tail.
    pub fn select(&self, lines: Vec<LogLine>) -> Vec<LogLine> {
        let mut lines: Vec<LogLine> = match self.since {
            Some(since) => lines.into_iter().filter(|l| l.time >= since).collect(),
            None => lines,
        };
        if let Some(n) = self.tail_lines {
            let skip = lines.len().saturating_sub(n);
            lines.drain(..skip);
        }
        lines
    }

    /// Whether a line written later (while following) passes `since`.
    pub fn admits(&self, line: &LogLine) -> bool {
        self.since.is_none_or(|since| line.time >= since)
    }

    /// The bytes a line is shown as.
    pub fn render(&self, line: &LogLine) -> Vec<u8> {
        if self.timestamps {
            let mut out = Vec::with_capacity(line.time_text.len() + 1 + line.text.len());
            out.extend_from_slice(line.time_text.as_bytes());
            out.push(b' ');
            out.extend_from_slice(&line.text);
            out
        } else {
            line.text.clone()
        }
    }
}

/// Counts bytes against `limitBytes` across a response.
#[derive(Debug, Clone, Copy)]
pub struct ByteBudget {
    left: Option<usize>,
}

impl ByteBudget {
    /// A budget of `limit` bytes (unlimited when `None`).
    pub fn new(limit: Option<usize>) -> Self {
        ByteBudget { left: limit }
    }

    /// Cuts `bytes` to what is left and spends it.
    pub fn spend(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        if let Some(left) = self.left.as_mut() {
            bytes.truncate(*left);
            *left -= bytes.len();
        }
        bytes
    }

    /// Whether nothing more may be written.
    pub fn exhausted(&self) -> bool {
        self.left == Some(0)
    }
}

/// The termination message FallbackToLogsOnError takes from a failed
/// container's log: the last 80 lines, at most `max_bytes` of their end.
pub fn fallback_message(content: &[u8], max_bytes: usize) -> String {
    let options = LogOptions {
        tail_lines: Some(FALLBACK_MESSAGE_LINES),
        ..LogOptions::default()
    };
    let text: Vec<u8> = options
        .select(parse_all(content))
        .into_iter()
        .flat_map(|l| l.text)
        .collect();
    let start = text.len().saturating_sub(max_bytes);
    String::from_utf8_lossy(text.get(start..).unwrap_or_default()).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const LOG: &str = "2024-01-01T00:00:01.000000001Z stdout F one\n\
2024-01-01T00:00:02.5Z stderr P tw\n\
2024-01-01T00:00:03Z stderr F o\n\
not a record\n\
2024-01-01T00:00:04Z stdout F \n\
2024-01-01T00:00:05Z stdout F three\n";

    fn texts(lines: &[LogLine]) -> Vec<String> {
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(&l.text).into_owned())
            .collect()
    }

    #[test]
    fn partial_records_join_and_malformed_ones_are_skipped() {
        assert_eq!(
            texts(&parse_all(LOG.as_bytes())),
            vec!["one\n", "two\n", "\n", "three\n"]
        );
    }

    #[test]
    fn a_line_split_across_chunks_comes_out_once_complete() {
        let mut parser = LogParser::new();
        let (head, tail) = LOG.as_bytes().split_at(50);
        let mut lines = parser.feed(head);
        lines.extend(parser.feed(tail));
        assert_eq!(texts(&lines), vec!["one\n", "two\n", "\n", "three\n"]);
        assert!(parser.take_partial().is_none());
    }

    #[test]
    fn options_pick_and_render_lines() {
        let since: Timestamp = "2024-01-01T00:00:02Z".parse().unwrap();
        let cases: Vec<(&str, LogOptions, &str)> = vec![
            ("everything", LogOptions::default(), "one\ntwo\n\nthree\n"),
            (
                "the last two lines",
                LogOptions {
                    tail_lines: Some(2),
                    ..Default::default()
                },
                "\nthree\n",
            ),
            (
                "lines since a time, a joined line keeping its first time",
                LogOptions {
                    since: Some(since),
                    ..Default::default()
                },
                "two\n\nthree\n",
            ),
            (
                "tail zero",
                LogOptions {
                    tail_lines: Some(0),
                    ..Default::default()
                },
                "",
            ),
            (
                "timestamps as containerd wrote them",
                LogOptions {
                    tail_lines: Some(1),
                    timestamps: true,
                    ..Default::default()
                },
                "2024-01-01T00:00:05Z three\n",
            ),
        ];
        for (name, options, want) in cases {
            let got: Vec<u8> = options
                .select(parse_all(LOG.as_bytes()))
                .iter()
                .flat_map(|l| options.render(l))
                .collect();
            assert_eq!(String::from_utf8_lossy(&got), want, "{name}");
        }
    }

    #[test]
    fn the_byte_budget_cuts_the_output() {
        let mut budget = ByteBudget::new(Some(5));
        assert_eq!(budget.spend(b"one\n".to_vec()), b"one\n");
        assert_eq!(budget.spend(b"two\n".to_vec()), b"t");
        assert!(budget.exhausted());
        assert_eq!(budget.spend(b"x".to_vec()), b"");
        let mut unlimited = ByteBudget::new(None);
        assert_eq!(unlimited.spend(b"abc".to_vec()), b"abc");
        assert!(!unlimited.exhausted());
    }

    #[test]
    fn the_fallback_message_is_the_end_of_the_log() {
        let mut log = String::new();
        for i in 0..100 {
            log.push_str(&format!("2024-01-01T00:00:01Z stdout F line{i}\n"));
        }
        let message = fallback_message(log.as_bytes(), 2048);
        assert!(message.starts_with("line20\n"), "{message}");
        assert!(message.ends_with("line99\n"));
        assert_eq!(fallback_message(log.as_bytes(), 7), "line99\n");
    }
}
