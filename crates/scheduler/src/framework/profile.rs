//! One scheduling profile: the plugins enabled at each extension point, in
//! order, with score weights (upstream `frameworkruntime.frameworkImpl`).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::framework::events::ClusterEvent;
use crate::framework::interface::Plugin;

/// Upstream's default scheduler name, used when a pod names none.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// An extension point, for configuration and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtensionPoint {
    /// PreFilter.
    PreFilter,
    /// Filter.
    Filter,
    /// PreScore.
    PreScore,
    /// Score (and its normalization).
    Score,
}

impl std::fmt::Display for ExtensionPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExtensionPoint::PreFilter => "preFilter",
            ExtensionPoint::Filter => "filter",
            ExtensionPoint::PreScore => "preScore",
            ExtensionPoint::Score => "score",
        })
    }
}

impl ExtensionPoint {
    /// True when `plugin` implements this extension point.
    pub fn implemented_by(self, plugin: &dyn Plugin) -> bool {
        match self {
            ExtensionPoint::PreFilter => plugin.as_pre_filter().is_some(),
            ExtensionPoint::Filter => plugin.as_filter().is_some(),
            ExtensionPoint::PreScore => plugin.as_pre_score().is_some(),
            ExtensionPoint::Score => plugin.as_score().is_some(),
        }
    }
}

/// A plugin enabled at an extension point does not implement it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin {plugin:?} does not extend the {point} extension point")]
pub struct NotAnExtension {
    /// The plugin's name.
    pub plugin: String,
    /// The extension point.
    pub point: ExtensionPoint,
}

/// A score plugin with its weight.
#[derive(Clone)]
pub struct WeightedPlugin {
    /// The plugin.
    pub plugin: Arc<dyn Plugin>,
    /// Its weight (at least 1).
    pub weight: i64,
}

/// A scheduling profile ready to run.
#[derive(Clone)]
pub struct Profile {
    scheduler_name: String,
    pre_filter: Vec<Arc<dyn Plugin>>,
    filter: Vec<Arc<dyn Plugin>>,
    pre_score: Vec<Arc<dyn Plugin>>,
    score: Vec<WeightedPlugin>,
    percentage_of_nodes_to_score: Option<u32>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |v: &[Arc<dyn Plugin>]| v.iter().map(|p| p.name()).collect::<Vec<_>>();
        f.debug_struct("Profile")
            .field("scheduler_name", &self.scheduler_name)
            .field("pre_filter", &names(&self.pre_filter))
            .field("filter", &names(&self.filter))
            .field("pre_score", &names(&self.pre_score))
            .field(
                "score",
                &self
                    .score
                    .iter()
                    .map(|w| (w.plugin.name(), w.weight))
                    .collect::<Vec<_>>(),
            )
            .field(
                "percentage_of_nodes_to_score",
                &self.percentage_of_nodes_to_score,
            )
            .finish()
    }
}

fn check(point: ExtensionPoint, plugins: &[Arc<dyn Plugin>]) -> Result<(), NotAnExtension> {
    match plugins.iter().find(|p| !point.implemented_by(p.as_ref())) {
        Some(p) => Err(NotAnExtension {
            plugin: p.name().to_string(),
            point,
        }),
        None => Ok(()),
    }
}

impl Profile {
    /// A profile with no plugins; add them with the builder methods.
    pub fn new(scheduler_name: impl Into<String>) -> Self {
        Profile {
            scheduler_name: scheduler_name.into(),
            pre_filter: Vec::new(),
            filter: Vec::new(),
            pre_score: Vec::new(),
            score: Vec::new(),
            percentage_of_nodes_to_score: None,
        }
    }

    /// Appends plugins at an extension point (for Score, with `weight`).
    pub fn with(
        mut self,
        point: ExtensionPoint,
        plugin: Arc<dyn Plugin>,
        weight: i64,
    ) -> Result<Self, NotAnExtension> {
        check(point, std::slice::from_ref(&plugin))?;
        match point {
            ExtensionPoint::PreFilter => self.pre_filter.push(plugin),
            ExtensionPoint::Filter => self.filter.push(plugin),
            ExtensionPoint::PreScore => self.pre_score.push(plugin),
            ExtensionPoint::Score => self.score.push(WeightedPlugin {
                plugin,
                weight: weight.max(1),
            }),
        }
        Ok(self)
    }

    /// Limits how many feasible nodes are looked for, as a percentage of all
    /// nodes (0 or unset: upstream's adaptive default).
    pub fn with_percentage_of_nodes_to_score(mut self, percentage: Option<u32>) -> Self {
        self.percentage_of_nodes_to_score = percentage;
        self
    }

    /// The `spec.schedulerName` this profile serves.
    pub fn scheduler_name(&self) -> &str {
        &self.scheduler_name
    }

    /// PreFilter plugins in order.
    pub fn pre_filter_plugins(&self) -> &[Arc<dyn Plugin>] {
        &self.pre_filter
    }

    /// Filter plugins in order.
    pub fn filter_plugins(&self) -> &[Arc<dyn Plugin>] {
        &self.filter
    }

    /// PreScore plugins in order.
    pub fn pre_score_plugins(&self) -> &[Arc<dyn Plugin>] {
        &self.pre_score
    }

    /// Score plugins with weights.
    pub fn score_plugins(&self) -> &[WeightedPlugin] {
        &self.score
    }

    /// The configured percentage of nodes to score.
    pub fn percentage_of_nodes_to_score(&self) -> Option<u32> {
        self.percentage_of_nodes_to_score
    }

    /// The cluster events that can help a pod rejected by `plugins`.
    pub fn events_for(&self, plugins: &BTreeSet<&'static str>) -> BTreeSet<ClusterEvent> {
        let all = self
            .pre_filter
            .iter()
            .chain(&self.filter)
            .chain(&self.pre_score)
            .chain(self.score.iter().map(|w| &w.plugin));
        all.filter(|p| plugins.contains(p.name()))
            .flat_map(|p| p.events_to_register().iter().copied())
            .collect()
    }
}
