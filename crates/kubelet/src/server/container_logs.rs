//! `GET /containerLogs/{namespace}/{pod}/{container}`: a container's log
//! file read with `kubectl logs` options, and followed until the container
//! exits (upstream `pkg/kubelet/server/server.go` getContainerLogs and
//! `kuberuntime/logs`).

use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use k8s_cri::v1 as cri;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::locate::{self, PodPath};
use super::query::Query;
use super::response::{text, Body, Failure};
use crate::logs::{ByteBudget, LogOptions, LogParser};
use crate::runtime::cri::Cri;

/// How often a followed file is checked for new lines when it has none;
/// upstream waits on inotify with a similar re-check period.
const FOLLOW_PERIOD: Duration = Duration::from_millis(200);

/// What a request asks for beyond [`LogOptions`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogRequest {
    options: LogOptions,
    follow: bool,
    previous: bool,
}

fn parse_request(query: &Query, now: Timestamp) -> Result<LogRequest, Failure> {
    let number = |key: &str| -> Result<Option<i64>, Failure> {
        query
            .get(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| Failure::bad_request(format!("{key}: {v:?} is not an integer")))
            })
            .transpose()
    };
    let non_negative = |key: &str| -> Result<Option<usize>, Failure> {
        number(key)?
            .map(|n| {
                usize::try_from(n)
                    .map_err(|_| Failure::bad_request(format!("{key} must not be negative")))
            })
            .transpose()
    };
    let since = match (number("sinceSeconds")?, query.get("sinceTime")) {
        (Some(_), Some(_)) => {
            return Err(Failure::bad_request(
                "at most one of sinceTime or sinceSeconds may be specified",
            ))
        }
        (Some(seconds), None) if seconds < 1 => {
            return Err(Failure::bad_request("sinceSeconds must be greater than 0"))
        }
        (Some(seconds), None) => Some(
            now.checked_sub(SignedDuration::from_secs(seconds))
                .unwrap_or(Timestamp::MIN),
        ),
        (None, Some(time)) => Some(time.parse::<Timestamp>().map_err(|e| {
            Failure::bad_request(format!("sinceTime: {time:?} is not RFC 3339: {e}"))
        })?),
        (None, None) => None,
    };
    Ok(LogRequest {
        options: LogOptions {
            tail_lines: non_negative("tailLines")?,
            since,
            timestamps: query.flag("timestamps"),
            limit_bytes: non_negative("limitBytes")?,
        },
        follow: query.flag("follow"),
        previous: query.flag("previous"),
    })
}

/// Answers one log request.
pub async fn serve(cri: &Cri, pod: PodPath<'_>, container: &str, query: &Query) -> Response<Body> {
    match respond(cri, pod, container, query).await {
        Ok(response) => response,
        Err(failure) => failure.into_response(),
    }
}

async fn respond(
    cri: &Cri,
    pod: PodPath<'_>,
    container: &str,
    query: &Query,
) -> Result<Response<Body>, Failure> {
    let request = parse_request(query, Timestamp::now())?;
    let instances = locate::container_instances(cri, pod, container).await?;
    let index = usize::from(request.previous);
    let Some(instance) = instances.get(index) else {
        // Upstream's validateContainerLogStatus messages.
        return Err(Failure::bad_request(if request.previous {
            format!(
                "previous terminated container \"{container}\" in pod \"{}\" not found",
                pod.pod
            )
        } else {
            format!(
                "container \"{container}\" in pod \"{}\" is waiting to start: ContainerCreating",
                pod.pod
            )
        }));
    };
    let status = cri
        .container_status(&instance.id)
        .await
        .map_err(Failure::internal)?;
    let mut file = match tokio::fs::File::open(&status.log_path).await {
        Ok(file) => file,
        // A container that never wrote has no file yet: an empty log.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(text(Bytes::new())),
        Err(e) => return Err(Failure::internal(format!("{}: {e}", status.log_path))),
    };
    let mut content = Vec::new();
    file.read_to_end(&mut content)
        .await
        .map_err(|e| Failure::internal(format!("{}: {e}", status.log_path)))?;
    let mut parser = LogParser::new();
    let mut lines = parser.feed(&content);
    let follow = request.follow && !request.previous;
    if !follow {
        lines.extend(parser.take_partial());
    }
    let mut budget = ByteBudget::new(request.options.limit_bytes);
    let head: Vec<u8> = request
        .options
        .select(lines)
        .iter()
        .flat_map(|line| budget.spend(request.options.render(line)))
        .collect();
    if !follow || budget.exhausted() {
        return Ok(text(head));
    }
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    let _ = sender.send(Bytes::from(head)).await;
    tokio::spawn(follow_file(FollowedFile {
        cri: cri.clone(),
        container_id: instance.id.clone(),
        file,
        parser,
        options: request.options,
        budget,
        sender,
    }));
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|bytes| (Ok::<_, std::io::Error>(Frame::data(bytes)), receiver))
    });
    let mut response = text(Bytes::new());
    *response.body_mut() = StreamBody::new(frames).boxed();
    Ok(response)
}

/// A log file being followed for one client.
struct FollowedFile {
    cri: Cri,
    container_id: String,
    file: tokio::fs::File,
    parser: LogParser,
    options: LogOptions,
    budget: ByteBudget,
    sender: tokio::sync::mpsc::Sender<Bytes>,
}

/// Sends lines as they are written; ends when the container has exited
/// and the file holds nothing more, when the byte limit is reached, or
/// when the client goes away.
async fn follow_file(mut f: FollowedFile) {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = match f.file.read(&mut chunk).await {
            Ok(n) => n,
            Err(error) => {
                tracing::debug!(%error, container = %f.container_id, "reading a followed log failed");
                return;
            }
        };
        if read == 0 {
            if !still_running(&f.cri, &f.container_id).await {
                // The runtime may have written the last lines just before
                // it reported the exit: one more read after seeing it.
                if let Ok(position) = f.file.stream_position().await {
                    let length = f.file.metadata().await.map_or(position, |m| m.len());
                    if length > position {
                        continue;
                    }
                }
                let tail: Vec<u8> = f
                    .parser
                    .take_partial()
                    .iter()
                    .flat_map(|line| f.budget.spend(f.options.render(line)))
                    .collect();
                if !tail.is_empty() {
                    let _ = f.sender.send(Bytes::from(tail)).await;
                }
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(FOLLOW_PERIOD) => {}
                () = f.sender.closed() => return,
            }
            continue;
        }
        let out: Vec<u8> = f
            .parser
            .feed(chunk.get(..read).unwrap_or_default())
            .iter()
            .filter(|line| f.options.admits(line))
            .flat_map(|line| f.budget.spend(f.options.render(line)))
            .collect();
        if !out.is_empty() && f.sender.send(Bytes::from(out)).await.is_err() {
            return;
        }
        if f.budget.exhausted() {
            return;
        }
    }
}

async fn still_running(cri: &Cri, id: &str) -> bool {
    cri.container_status(id)
        .await
        .is_ok_and(|s| s.state == cri::ContainerState::ContainerRunning as i32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn request(query: &str) -> Result<LogRequest, Failure> {
        let now: Timestamp = "2024-01-01T00:01:00Z".parse().unwrap();
        parse_request(&Query::parse(Some(query)), now)
    }

    #[test]
    fn query_parameters_become_options() {
        let got = request(
            "follow=true&previous=1&tailLines=5&sinceSeconds=60&timestamps=true&limitBytes=10",
        )
        .unwrap();
        assert!(got.follow);
        assert!(got.previous);
        assert_eq!(
            got.options,
            LogOptions {
                tail_lines: Some(5),
                since: Some("2024-01-01T00:00:00Z".parse().unwrap()),
                timestamps: true,
                limit_bytes: Some(10),
            }
        );
        assert_eq!(
            request("sinceTime=2024-01-01T00%3A00%3A30Z")
                .unwrap()
                .options
                .since,
            Some("2024-01-01T00:00:30Z".parse().unwrap())
        );
    }

    #[test]
    fn bad_query_parameters_are_bad_requests() {
        for query in [
            "tailLines=x",
            "tailLines=-1",
            "limitBytes=-5",
            "sinceSeconds=0",
            "sinceTime=yesterday",
            "sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z",
        ] {
            let failure = request(query).unwrap_err();
            assert_eq!(failure.code, http::StatusCode::BAD_REQUEST, "{query}");
        }
    }
}
