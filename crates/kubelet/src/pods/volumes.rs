//! Pod volumes as host directories under the pod's dir, and the CRI mounts
//! that put them into containers: emptyDir, hostPath, configMap, secret,
//! downwardAPI and projected (pkg/volume/*). configMap/secret/downwardAPI
//! content is written when the sandbox starts.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use k8s_cri::v1::Mount;
use k8s_openapi::api::core::v1::{
    Container, DownwardAPIVolumeFile, KeyToPath, Pod, ProjectedVolumeSource, Volume,
};

use super::env::{field_value, EnvSources, PodAddresses};
use super::ConfigError;

/// Files to project into a volume: content by key, the selected items,
/// the default mode.
type Projection<'a> = (
    BTreeMap<String, Vec<u8>>,
    Option<&'a Vec<KeyToPath>>,
    Option<i32>,
);

/// Upstream's default file mode for projected files (0644).
const DEFAULT_MODE: i32 = 0o644;

/// A prepared volume on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolume {
    /// The host path to bind.
    pub path: PathBuf,
    /// Whether the volume itself is read-only (configMap, secret, downwardAPI).
    pub read_only: bool,
}

/// Creates every volume of `pod` under `pod_dir/volumes/<name>` (or points at
/// the host path) and returns them by name.
pub fn prepare(
    pod: &Pod,
    pod_dir: &Path,
    sources: &EnvSources,
    addresses: &PodAddresses,
) -> Result<HashMap<String, HostVolume>, ConfigError> {
    let mut out = HashMap::new();
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    for volume in volumes.into_iter().flatten() {
        let host = prepare_one(
            pod,
            volume,
            &pod_dir.join("volumes").join(&volume.name),
            sources,
            addresses,
        )?;
        out.insert(volume.name.clone(), host);
    }
    Ok(out)
}

fn prepare_one(
    pod: &Pod,
    volume: &Volume,
    dir: &Path,
    sources: &EnvSources,
    addresses: &PodAddresses,
) -> Result<HostVolume, ConfigError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| ConfigError::Volume(format!("{path}: {e}"))
    };
    if let Some(host_path) = &volume.host_path {
        let path = PathBuf::from(&host_path.path);
        match host_path.type_.as_deref().unwrap_or("") {
            "DirectoryOrCreate" => std::fs::create_dir_all(&path).map_err(io(&path))?,
            "Directory" if !path.is_dir() => {
                return Err(ConfigError::Volume(format!(
                    "hostPath {} is not a directory",
                    path.display()
                )))
            }
            "File" if !path.is_file() => {
                return Err(ConfigError::Volume(format!(
                    "hostPath {} is not a file",
                    path.display()
                )))
            }
            _ => {}
        }
        return Ok(HostVolume {
            path,
            read_only: false,
        });
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let files: Option<Vec<Projection<'_>>> = if volume.empty_dir.is_some() {
        None
    } else if let Some(cm) = &volume.config_map {
        let data = config_map_files(sources, &cm.name, cm.optional)?;
        Some(vec![(data, cm.items.as_ref(), cm.default_mode)])
    } else if let Some(secret) = &volume.secret {
        let name = secret.secret_name.as_deref().unwrap_or_default();
        let data = secret_files(sources, name, secret.optional)?;
        Some(vec![(data, secret.items.as_ref(), secret.default_mode)])
    } else if let Some(downward) = &volume.downward_api {
        let data = downward_data(pod, downward.items.as_deref(), addresses)?;
        Some(vec![(data, None, downward.default_mode)])
    } else if let Some(projected) = &volume.projected {
        Some(projected_files(
            pod,
            &volume.name,
            projected,
            sources,
            addresses,
        )?)
    } else {
        return Err(ConfigError::Unsupported(format!(
            "volume {}: only emptyDir, hostPath, configMap, secret, downwardAPI and projected are supported",
            volume.name
        )));
    };
    let read_only = files.is_some();
    for (data, items, mode) in files.into_iter().flatten() {
        write_files(dir, &data, items, mode.unwrap_or(DEFAULT_MODE))?;
    }
    Ok(HostVolume {
        path: dir.to_path_buf(),
        read_only,
    })
}

/// A ConfigMap's keys (data, then binaryData) as file contents.
fn config_map_files(
    sources: &EnvSources,
    name: &str,
    optional: Option<bool>,
) -> Result<BTreeMap<String, Vec<u8>>, ConfigError> {
    let Some(found) = referenced(&sources.config_maps, "configmap", name, optional)? else {
        return Ok(BTreeMap::new());
    };
    let text = found.data.iter().flatten().map(|(k, v)| (k, v.as_bytes()));
    let binary = found
        .binary_data
        .iter()
        .flatten()
        .map(|(k, v)| (k, v.0.as_slice()));
    Ok(by_key(text.chain(binary)))
}

/// A Secret's keys (data, then stringData) as file contents, byte for byte
/// (keystores and other binary values must not pass through UTF-8).
fn secret_files(
    sources: &EnvSources,
    name: &str,
    optional: Option<bool>,
) -> Result<BTreeMap<String, Vec<u8>>, ConfigError> {
    let Some(found) = referenced(&sources.secrets, "secret", name, optional)? else {
        return Ok(BTreeMap::new());
    };
    let binary = found
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k, v.0.as_slice()));
    let text = found
        .string_data
        .iter()
        .flatten()
        .map(|(k, v)| (k, v.as_bytes()));
    Ok(by_key(binary.chain(text)))
}

/// The object a volume names, `None` if it is missing but optional.
fn referenced<'a, T>(
    objects: &'a HashMap<String, T>,
    kind: &'static str,
    name: &str,
    optional: Option<bool>,
) -> Result<Option<&'a T>, ConfigError> {
    match objects.get(name) {
        Some(found) => Ok(Some(found)),
        None if optional.unwrap_or(false) => Ok(None),
        None => Err(ConfigError::not_found(kind, name)),
    }
}

/// Key → content; a later entry for a key wins.
fn by_key<'a>(entries: impl Iterator<Item = (&'a String, &'a [u8])>) -> BTreeMap<String, Vec<u8>> {
    entries.map(|(k, v)| (k.clone(), v.to_vec())).collect()
}

/// The downward API items' files (fieldRef ones; resourceFieldRef is not
/// done yet).
fn downward_data(
    pod: &Pod,
    items: Option<&[DownwardAPIVolumeFile]>,
    addresses: &PodAddresses,
) -> Result<BTreeMap<String, Vec<u8>>, ConfigError> {
    let mut data = BTreeMap::new();
    for item in items.into_iter().flatten() {
        if let Some(field) = &item.field_ref {
            let value = downward_file(pod, &field.field_path, addresses)?;
            data.insert(item.path.clone(), value.into_bytes());
        }
    }
    Ok(data)
}

/// A projected volume: its configMap, secret and downwardAPI sources'
/// files in one directory, each source with its own items and the volume's
/// defaultMode (upstream `pkg/volume/projected`).
fn projected_files<'a>(
    pod: &Pod,
    volume: &str,
    projected: &'a ProjectedVolumeSource,
    sources: &EnvSources,
    addresses: &PodAddresses,
) -> Result<Vec<Projection<'a>>, ConfigError> {
    let mode = projected.default_mode;
    let mut files = Vec::new();
    for source in projected.sources.iter().flatten() {
        if let Some(cm) = &source.config_map {
            let data = config_map_files(sources, &cm.name, cm.optional)?;
            files.push((data, cm.items.as_ref(), mode));
        } else if let Some(secret) = &source.secret {
            let data = secret_files(sources, &secret.name, secret.optional)?;
            files.push((data, secret.items.as_ref(), mode));
        } else if let Some(downward) = &source.downward_api {
            let data = downward_data(pod, downward.items.as_deref(), addresses)?;
            files.push((data, None, mode));
        } else {
            return Err(ConfigError::Unsupported(format!(
                "projected volume {volume}: only configMap, secret and downwardAPI sources are supported"
            )));
        }
    }
    Ok(files)
}

/// Downward API files render maps as `key="value"` lines.
fn downward_file(pod: &Pod, path: &str, addresses: &PodAddresses) -> Result<String, ConfigError> {
    let map = match path {
        "metadata.labels" => pod.metadata.labels.as_ref(),
        "metadata.annotations" => pod.metadata.annotations.as_ref(),
        _ => return field_value(pod, path, addresses),
    };
    Ok(map
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}\n"))
        .collect())
}

/// Writes `data` (or the selected `items`) as files with `mode`.
fn write_files(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    mode: i32,
) -> Result<(), ConfigError> {
    let selected: Vec<(String, &[u8], i32)> = match items {
        None => data
            .iter()
            .map(|(k, v)| (k.clone(), v.as_slice(), mode))
            .collect(),
        Some(items) => items
            .iter()
            .filter_map(|item| {
                let value = data.get(&item.key)?;
                Some((
                    item.path.clone(),
                    value.as_slice(),
                    item.mode.unwrap_or(mode),
                ))
            })
            .collect(),
    };
    for (relative, content, file_mode) in selected {
        let target = safe_join(dir, &relative)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ConfigError::Volume(format!("{}: {e}", parent.display())))?;
        }
        let write = || -> std::io::Result<()> {
            let tmp = target.with_extension("rkube-tmp");
            std::fs::write(&tmp, content)?;
            std::fs::set_permissions(
                &tmp,
                std::fs::Permissions::from_mode(file_mode as u32 & 0o7777),
            )?;
            std::fs::rename(&tmp, &target)
        };
        write().map_err(|e| ConfigError::Volume(format!("{}: {e}", target.display())))?;
    }
    Ok(())
}

/// `base/relative` if `relative` stays inside `base` (no `..`, not absolute).
fn safe_join(base: &Path, relative: &str) -> Result<PathBuf, ConfigError> {
    let path = Path::new(relative);
    let inside =
        !relative.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    if inside {
        Ok(base.join(path))
    } else {
        Err(ConfigError::Volume(format!(
            "path {relative:?} must be relative and stay inside the volume"
        )))
    }
}

/// The CRI mounts for `container`'s volumeMounts.
pub fn mounts(
    container: &Container,
    volumes: &HashMap<String, HostVolume>,
) -> Result<Vec<Mount>, ConfigError> {
    let mut out = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let volume = volumes.get(&mount.name).ok_or_else(|| {
            ConfigError::Volume(format!(
                "volumeMount {}: no volume of that name",
                mount.name
            ))
        })?;
        let host_path = match mount.sub_path.as_deref().filter(|s| !s.is_empty()) {
            Some(sub) => {
                let path = safe_join(&volume.path, sub)?;
                if !path.exists() {
                    std::fs::create_dir_all(&path)
                        .map_err(|e| ConfigError::Volume(format!("{}: {e}", path.display())))?;
                }
                path
            }
            None => volume.path.clone(),
        };
        out.push(Mount {
            container_path: mount.mount_path.clone(),
            host_path: host_path.to_string_lossy().into_owned(),
            readonly: mount.read_only.unwrap_or(false) || volume.read_only,
            ..Default::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    #[test]
    fn config_maps_become_files_with_items_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}},
            "spec": {"containers": [], "volumes": [
                {"name": "all", "configMap": {"name": "cfg", "defaultMode": 0o600}},
                {"name": "some", "configMap": {"name": "cfg", "items": [{"key": "k1", "path": "sub/one"}]}},
                {"name": "scratch", "emptyDir": {}},
                {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}
            ]}
        }))
        .unwrap();
        let cm = ConfigMap {
            data: Some(BTreeMap::from([
                ("k1".into(), "v1".into()),
                ("k2".into(), "v2".into()),
            ])),
            ..Default::default()
        };
        let sources = EnvSources {
            config_maps: HashMap::from([("cfg".into(), cm)]),
            ..Default::default()
        };
        let volumes = prepare(&pod, dir.path(), &sources, &PodAddresses::default()).unwrap();
        let all = &volumes["all"].path;
        assert_eq!(std::fs::read_to_string(all.join("k2")).unwrap(), "v2");
        let mode = std::fs::metadata(all.join("k1"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let some = &volumes["some"].path;
        assert_eq!(std::fs::read_to_string(some.join("sub/one")).unwrap(), "v1");
        assert!(!some.join("k2").exists());
        assert!(volumes["all"].read_only && !volumes["scratch"].read_only);
        assert_eq!(
            std::fs::read_to_string(volumes["info"].path.join("labels")).unwrap(),
            "a=\"b\"\n"
        );
    }

    #[test]
    fn projected_volumes_merge_their_sources_into_one_directory() {
        let dir = tempfile::tempdir().unwrap();
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [], "volumes": [
                {"name": "all-in-one", "projected": {"defaultMode": 0o640, "sources": [
                    {"configMap": {"name": "cfg", "items": [{"key": "k1", "path": "config/k1"}]}},
                    {"secret": {"name": "creds"}},
                    {"secret": {"name": "absent", "optional": true}},
                    {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}
                ]}},
                {"name": "token", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token"}}
                ]}}
            ]}
        }))
        .unwrap();
        let sources = EnvSources {
            config_maps: HashMap::from([(
                "cfg".into(),
                ConfigMap {
                    data: Some(BTreeMap::from([("k1".into(), "v1".into())])),
                    ..Default::default()
                },
            )]),
            secrets: HashMap::from([(
                "creds".into(),
                k8s_openapi::api::core::v1::Secret {
                    string_data: Some(BTreeMap::from([("password".into(), "s3cret".into())])),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        };
        let refused = prepare(&pod, dir.path(), &sources, &PodAddresses::default()).unwrap_err();
        assert!(
            refused.to_string().contains("projected volume token"),
            "{refused}"
        );

        let mut one = pod.clone();
        if let Some(volumes) = one.spec.as_mut().and_then(|s| s.volumes.as_mut()) {
            volumes.truncate(1);
        }
        let volumes = prepare(&one, dir.path(), &sources, &PodAddresses::default()).unwrap();
        let path = &volumes["all-in-one"].path;
        let read = |f: &str| std::fs::read_to_string(path.join(f)).unwrap();
        assert_eq!(read("config/k1"), "v1");
        assert_eq!(read("password"), "s3cret");
        assert_eq!(read("name"), "p");
        let mode = std::fs::metadata(path.join("password"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o640);
        assert!(volumes["all-in-one"].read_only);
    }

    #[test]
    fn paths_that_leave_the_volume_are_refused() {
        let cases = [
            ("a/b", true),
            ("../etc", false),
            ("/abs", false),
            ("", false),
            ("a/../../b", false),
        ];
        for (path, ok) in cases {
            assert_eq!(safe_join(Path::new("/v"), path).is_ok(), ok, "{path}");
        }
    }

    #[test]
    fn a_missing_config_map_fails_unless_optional() {
        let dir = tempfile::tempdir().unwrap();
        let pod = |optional: bool| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p"},
                "spec": {"containers": [], "volumes": [{"name": "v", "configMap": {"name": "nope", "optional": optional}}]}
            }))
            .unwrap()
        };
        let sources = EnvSources::default();
        assert!(prepare(&pod(false), dir.path(), &sources, &PodAddresses::default()).is_err());
        assert!(prepare(&pod(true), dir.path(), &sources, &PodAddresses::default()).is_ok());
    }
}
