//! `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`) into
//! runnable [`Profile`]s, with upstream's defaults and merge rules
//! (pkg/scheduler/apis/config/v1/default_plugins.go `mergePlugins`, and the
//! multi-point expansion in framework/runtime/framework.go).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::framework::profile::NotAnExtension;
use crate::framework::{ExtensionPoint, Plugin, Profile, DEFAULT_SCHEDULER_NAME};
use crate::plugins::{self, PluginError, Registry};

/// The `apiVersion` this module reads.
pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";
/// The `kind` this module reads.
pub const KIND: &str = "KubeSchedulerConfiguration";

/// Upstream plugins that rkube's algorithm does not run (queue sorting and
/// binding live in the component; volumes, DRA and preemption are not part
/// of this crate). Naming them in a configuration is accepted and has no
/// effect here, so upstream configurations load unchanged.
const HANDLED_ELSEWHERE: &[&str] = &[
    "PrioritySort",
    "SchedulingGates",
    "DefaultBinder",
    "DefaultPreemption",
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "VolumeZone",
    "DynamicResources",
    "NodeDeclaredFeatures",
];

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not YAML/JSON of the expected shape.
    #[error("parsing scheduler configuration")]
    Parse(#[source] serde_yaml::Error),
    /// Wrong `apiVersion` or `kind`.
    #[error("unsupported configuration type {api_version}/{kind}, want {API_VERSION}/{KIND}")]
    WrongType {
        /// The `apiVersion` found.
        api_version: String,
        /// The `kind` found.
        kind: String,
    },
    /// Two profiles serve the same scheduler name.
    #[error("duplicate profile with schedulerName {0:?}")]
    DuplicateProfile(String),
    /// A plugin has two `pluginConfig` entries.
    #[error("repeated pluginConfig for plugin {0:?}")]
    DuplicatePluginConfig(String),
    /// `percentageOfNodesToScore` is outside 0–100.
    #[error("percentageOfNodesToScore {0} is not within 0..=100")]
    BadPercentage(i32),
    /// A backoff is not positive, or the initial exceeds the maximum.
    #[error("invalid pod backoff: initial {initial}s, max {max}s")]
    BadBackoff {
        /// `podInitialBackoffSeconds`.
        initial: i64,
        /// `podMaxBackoffSeconds`.
        max: i64,
    },
    /// A plugin could not be built.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A plugin is enabled at a point it does not implement.
    #[error(transparent)]
    NotAnExtension(#[from] NotAnExtension),
}

/// `Plugin` in a `PluginSet`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginRef {
    /// The plugin's name (`*` in `disabled` means all defaults).
    pub name: String,
    /// Score weight.
    #[serde(default)]
    pub weight: Option<i32>,
}

/// `PluginSet`: plugins enabled and disabled at one extension point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginSet {
    /// Enabled plugins, in order.
    #[serde(default)]
    pub enabled: Vec<PluginRef>,
    /// Disabled plugins.
    #[serde(default)]
    pub disabled: Vec<PluginRef>,
}

/// `Plugins`: one set per extension point. Points this crate does not run
/// (queueSort, reserve, bind, …) are accepted and ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginsConfig {
    /// Plugins enabled at every point they implement.
    #[serde(default)]
    pub multi_point: PluginSet,
    /// PreFilter.
    #[serde(default)]
    pub pre_filter: PluginSet,
    /// Filter.
    #[serde(default)]
    pub filter: PluginSet,
    /// PreScore.
    #[serde(default)]
    pub pre_score: PluginSet,
    /// Score.
    #[serde(default)]
    pub score: PluginSet,
}

impl PluginsConfig {
    fn set(&self, point: ExtensionPoint) -> &PluginSet {
        match point {
            ExtensionPoint::PreFilter => &self.pre_filter,
            ExtensionPoint::Filter => &self.filter,
            ExtensionPoint::PreScore => &self.pre_score,
            ExtensionPoint::Score => &self.score,
        }
    }
}

/// `PluginConfig`: args for one plugin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PluginConfig {
    /// The plugin.
    pub name: String,
    /// Its args (the `*Args` type without apiVersion/kind).
    #[serde(default)]
    pub args: Option<serde_json::Value>,
}

/// `KubeSchedulerProfile`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileConfig {
    /// The `spec.schedulerName` served; `default-scheduler` when empty.
    #[serde(default)]
    pub scheduler_name: Option<String>,
    /// Overrides the top-level percentage for this profile.
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Plugin sets, merged onto the defaults.
    #[serde(default)]
    pub plugins: Option<PluginsConfig>,
    /// Per-plugin args.
    #[serde(default)]
    pub plugin_config: Vec<PluginConfig>,
}

/// The configuration document.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeSchedulerConfiguration {
    /// Must be [`API_VERSION`].
    #[serde(default)]
    pub api_version: String,
    /// Must be [`KIND`].
    #[serde(default)]
    pub kind: String,
    /// Percentage of nodes to find feasible before stopping (0: adaptive).
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// First backoff of an unschedulable pod (default 1).
    #[serde(default)]
    pub pod_initial_backoff_seconds: Option<i64>,
    /// Backoff cap (default 10).
    #[serde(default)]
    pub pod_max_backoff_seconds: Option<i64>,
    /// Profiles; one `default-scheduler` profile when empty.
    #[serde(default)]
    pub profiles: Vec<ProfileConfig>,
}

/// Upstream's default multi-point plugins with their score weights
/// (`getDefaultPlugins`), minus those in [`HANDLED_ELSEWHERE`].
pub fn default_plugins() -> Vec<PluginRef> {
    [
        (plugins::node_unschedulable::NAME, None),
        (plugins::node_name::NAME, None),
        (plugins::taint_toleration::NAME, Some(3)),
        (plugins::node_affinity::NAME, Some(2)),
        (plugins::node_ports::NAME, None),
        (plugins::node_resources_fit::NAME, Some(1)),
        (plugins::pod_topology_spread::NAME, Some(2)),
        (plugins::inter_pod_affinity::NAME, Some(2)),
        (plugins::balanced_allocation::NAME, Some(1)),
        (plugins::image_locality::NAME, Some(1)),
    ]
    .into_iter()
    .map(|(name, weight)| PluginRef {
        name: name.to_string(),
        weight,
    })
    .collect()
}

/// Merges a user's set onto defaults (upstream `mergePluginSet`): disabled
/// names (or `*`) drop defaults, a re-enabled default keeps its position
/// with the user's settings, other enabled plugins are appended.
fn merge(defaults: &[PluginRef], custom: &PluginSet) -> Vec<PluginRef> {
    let disabled: HashSet<&str> = custom.disabled.iter().map(|p| p.name.as_str()).collect();
    let mut out = Vec::new();
    let mut used = HashSet::new();
    if !disabled.contains("*") {
        for d in defaults
            .iter()
            .filter(|d| !disabled.contains(d.name.as_str()))
        {
            match custom.enabled.iter().position(|c| c.name == d.name) {
                Some(i) => {
                    used.insert(i);
                    out.extend(custom.enabled.get(i).cloned());
                }
                None => out.push(d.clone()),
            }
        }
    }
    out.extend(
        custom
            .enabled
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(i))
            .map(|(_, p)| p.clone()),
    );
    out
}

/// The plugins at one point (upstream `expandMultiPointPlugins`): plugins
/// enabled explicitly at the point that also come from multi-point keep the
/// point's order, then the remaining multi-point plugins implementing the
/// point (unless disabled there), then the point's other plugins.
fn expand(
    point: ExtensionPoint,
    multi: &[PluginRef],
    specific: &PluginSet,
    instances: &BTreeMap<String, Arc<dyn Plugin>>,
) -> Vec<PluginRef> {
    let disabled: HashSet<&str> = specific.disabled.iter().map(|p| p.name.as_str()).collect();
    let explicit: HashSet<&str> = specific.enabled.iter().map(|p| p.name.as_str()).collect();
    let in_multi: HashSet<&str> = multi.iter().map(|p| p.name.as_str()).collect();
    let overrides = specific
        .enabled
        .iter()
        .filter(|p| in_multi.contains(p.name.as_str()));
    let from_multi = multi.iter().filter(|p| {
        !explicit.contains(p.name.as_str())
            && !disabled.contains("*")
            && !disabled.contains(p.name.as_str())
            && instances
                .get(&p.name)
                .is_some_and(|i| point.implemented_by(i.as_ref()))
    });
    let others = specific
        .enabled
        .iter()
        .filter(|p| !in_multi.contains(p.name.as_str()));
    overrides.chain(from_multi).chain(others).cloned().collect()
}

/// A loaded configuration.
#[derive(Debug, Clone)]
pub struct Configuration {
    /// Runnable profiles, one per scheduler name.
    pub profiles: Vec<Profile>,
    /// The top-level `percentageOfNodesToScore` (0: adaptive).
    pub percentage_of_nodes_to_score: u32,
    /// First backoff of a pod that failed to schedule.
    pub pod_initial_backoff: Duration,
    /// Backoff cap.
    pub pod_max_backoff: Duration,
}

fn percentage(p: Option<i32>) -> Result<Option<u32>, ConfigError> {
    match p {
        None => Ok(None),
        Some(v) => u32::try_from(v)
            .ok()
            .filter(|v| *v <= 100)
            .map(Some)
            .ok_or(ConfigError::BadPercentage(v)),
    }
}

impl Configuration {
    /// Upstream's defaults: one `default-scheduler` profile with the default plugins.
    pub fn defaults(registry: &Registry) -> Result<Self, ConfigError> {
        Self::from_document(
            KubeSchedulerConfiguration {
                api_version: API_VERSION.into(),
                kind: KIND.into(),
                ..Default::default()
            },
            registry,
        )
    }

    /// Parses a YAML (or JSON) document.
    pub fn from_yaml(text: &str, registry: &Registry) -> Result<Self, ConfigError> {
        let doc: KubeSchedulerConfiguration =
            serde_yaml::from_str(text).map_err(ConfigError::Parse)?;
        Self::from_document(doc, registry)
    }

    /// Builds profiles from a parsed document.
    pub fn from_document(
        doc: KubeSchedulerConfiguration,
        registry: &Registry,
    ) -> Result<Self, ConfigError> {
        if doc.api_version != API_VERSION || doc.kind != KIND {
            return Err(ConfigError::WrongType {
                api_version: doc.api_version,
                kind: doc.kind,
            });
        }
        let initial = doc.pod_initial_backoff_seconds.unwrap_or(1);
        let max = doc.pod_max_backoff_seconds.unwrap_or(10);
        if initial <= 0 || max <= 0 || initial > max {
            return Err(ConfigError::BadBackoff { initial, max });
        }
        let profiles_config = if doc.profiles.is_empty() {
            vec![ProfileConfig::default()]
        } else {
            doc.profiles
        };
        let mut names = HashSet::new();
        let mut profiles = Vec::new();
        for p in profiles_config {
            let profile = build_profile(p, registry)?;
            if !names.insert(profile.scheduler_name().to_string()) {
                return Err(ConfigError::DuplicateProfile(
                    profile.scheduler_name().to_string(),
                ));
            }
            profiles.push(profile);
        }
        Ok(Configuration {
            profiles,
            percentage_of_nodes_to_score: percentage(doc.percentage_of_nodes_to_score)?
                .unwrap_or(0),
            pod_initial_backoff: Duration::from_secs(initial.unsigned_abs()),
            pod_max_backoff: Duration::from_secs(max.unsigned_abs()),
        })
    }

    /// The profile serving `scheduler_name`.
    pub fn profile(&self, scheduler_name: &str) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.scheduler_name() == scheduler_name)
    }
}

fn build_profile(config: ProfileConfig, registry: &Registry) -> Result<Profile, ConfigError> {
    let mut args: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for pc in config.plugin_config {
        if args
            .insert(pc.name.clone(), pc.args.unwrap_or(serde_json::Value::Null))
            .is_some()
        {
            return Err(ConfigError::DuplicatePluginConfig(pc.name));
        }
    }
    let plugins = config.plugins.unwrap_or_default();
    let multi = merge(&default_plugins(), &plugins.multi_point);
    const POINTS: [ExtensionPoint; 4] = [
        ExtensionPoint::PreFilter,
        ExtensionPoint::Filter,
        ExtensionPoint::PreScore,
        ExtensionPoint::Score,
    ];
    // One instance per plugin name, shared by all its extension points.
    let mut instances: BTreeMap<String, Arc<dyn Plugin>> = BTreeMap::new();
    let wanted = multi
        .iter()
        .chain(POINTS.iter().flat_map(|p| plugins.set(*p).enabled.iter()));
    for r in wanted {
        if instances.contains_key(&r.name) || HANDLED_ELSEWHERE.contains(&r.name.as_str()) {
            continue;
        }
        let plugin = registry.build(&r.name, args.get(&r.name))?;
        instances.insert(r.name.clone(), plugin);
    }
    let name = config
        .scheduler_name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_string());
    let mut profile = Profile::new(name)
        .with_percentage_of_nodes_to_score(percentage(config.percentage_of_nodes_to_score)?);
    for point in POINTS {
        for r in expand(point, &multi, plugins.set(point), &instances) {
            let Some(plugin) = instances.get(&r.name) else {
                continue;
            };
            profile = profile.with(point, plugin.clone(), i64::from(r.weight.unwrap_or(1)))?;
        }
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(plugins: &[Arc<dyn Plugin>]) -> Vec<&'static str> {
        plugins.iter().map(|p| p.name()).collect()
    }

    fn weights(profile: &Profile) -> Vec<(&'static str, i64)> {
        profile
            .score_plugins()
            .iter()
            .map(|w| (w.plugin.name(), w.weight))
            .collect()
    }

    #[test]
    fn defaults_match_upstream() {
        let config =
            Configuration::defaults(&Registry::default()).unwrap_or_else(|e| panic!("{e}"));
        let p = config
            .profile(DEFAULT_SCHEDULER_NAME)
            .unwrap_or_else(|| panic!("no default profile"));
        assert_eq!(
            names(p.filter_plugins()),
            vec![
                "NodeUnschedulable",
                "NodeName",
                "TaintToleration",
                "NodeAffinity",
                "NodePorts",
                "NodeResourcesFit",
                "PodTopologySpread",
                "InterPodAffinity"
            ]
        );
        assert_eq!(
            names(p.pre_filter_plugins()),
            vec!["NodeAffinity", "PodTopologySpread", "InterPodAffinity"]
        );
        assert_eq!(
            weights(p),
            vec![
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 1),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2),
                ("NodeResourcesBalancedAllocation", 1),
                ("ImageLocality", 1)
            ]
        );
        assert_eq!(
            (config.pod_initial_backoff, config.pod_max_backoff),
            (Duration::from_secs(1), Duration::from_secs(10))
        );
    }

    #[test]
    fn profiles_merge_onto_defaults() {
        let yaml = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 50
podMaxBackoffSeconds: 20
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packer
  plugins:
    multiPoint:
      enabled:
      - name: NodeAffinity
        weight: 5
      disabled:
      - name: ImageLocality
      - name: VolumeBinding
    score:
      disabled:
      - name: NodeResourcesBalancedAllocation
    filter:
      disabled:
      - name: NodePorts
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 2
        - name: memory
"#;
        let config =
            Configuration::from_yaml(yaml, &Registry::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.profiles.len(), 2);
        assert_eq!(config.percentage_of_nodes_to_score, 50);
        assert_eq!(config.pod_max_backoff, Duration::from_secs(20));
        let p = config
            .profile("bin-packer")
            .unwrap_or_else(|| panic!("no bin-packer"));
        assert_eq!(
            weights(p),
            vec![
                ("TaintToleration", 3),
                ("NodeAffinity", 5),
                ("NodeResourcesFit", 1),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2)
            ]
        );
        assert!(!names(p.filter_plugins()).contains(&"NodePorts"));
    }

    #[test]
    fn disabling_everything_keeps_only_explicit_plugins() {
        let yaml = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: minimal
  plugins:
    multiPoint:
      disabled: [{name: "*"}]
    filter:
      enabled: [{name: NodeResourcesFit}]
    score:
      enabled: [{name: ImageLocality, weight: 4}]
"#;
        let config =
            Configuration::from_yaml(yaml, &Registry::default()).unwrap_or_else(|e| panic!("{e}"));
        let p = &config.profiles[0];
        assert_eq!(names(p.filter_plugins()), vec!["NodeResourcesFit"]);
        assert_eq!(weights(p), vec![("ImageLocality", 4)]);
        assert!(p.pre_filter_plugins().is_empty());
    }

    #[test]
    fn bad_configurations_are_rejected() {
        let header =
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";
        let cases = [
            ("wrong kind", "apiVersion: v1\nkind: Pod\n".to_string()),
            ("not yaml", "{{{".to_string()),
            ("duplicate profiles", format!("{header}profiles:\n- schedulerName: a\n- schedulerName: a\n")),
            ("unknown plugin", format!("{header}profiles:\n- plugins:\n    filter:\n      enabled: [{{name: Nope}}]\n")),
            ("plugin at a point it lacks", format!("{header}profiles:\n- plugins:\n    score:\n      enabled: [{{name: NodePorts}}]\n")),
            ("percentage above 100", format!("{header}percentageOfNodesToScore: 101\n")),
            ("backoff inverted", format!("{header}podInitialBackoffSeconds: 30\n")),
            (
                "bad plugin args",
                format!("{header}profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {{scoringStrategy: {{type: Nope}}}}\n"),
            ),
            (
                "repeated plugin config",
                format!("{header}profiles:\n- pluginConfig:\n  - name: NodeAffinity\n  - name: NodeAffinity\n"),
            ),
        ];
        for (name, yaml) in cases {
            assert!(
                Configuration::from_yaml(&yaml, &Registry::default()).is_err(),
                "{name}"
            );
        }
    }
}
