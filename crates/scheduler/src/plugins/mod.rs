//! The in-tree plugins, one per file, and the registry that builds them by
//! name (upstream pkg/scheduler/framework/plugins/registry.go).

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod resource_allocation;
pub mod taint_toleration;
pub mod topology_counts;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::framework::Plugin;

/// A plugin could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No plugin has this name.
    #[error("plugin {0:?} is not registered")]
    Unknown(String),
    /// The plugin's `args` do not parse.
    #[error("invalid args for plugin {plugin:?}")]
    InvalidArgs {
        /// The plugin.
        plugin: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The args parse but are not usable (e.g. a bad selector).
    #[error("invalid args for plugin {plugin:?}: {message}")]
    BadArgs {
        /// The plugin.
        plugin: String,
        /// Why.
        message: String,
    },
}

/// Builds a plugin from its optional `pluginConfig` args.
pub type Constructor = fn(Option<&serde_json::Value>) -> Result<Arc<dyn Plugin>, PluginError>;

fn args<T: DeserializeOwned + Default>(
    name: &str,
    value: Option<&serde_json::Value>,
) -> Result<T, PluginError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|source| PluginError::InvalidArgs {
            plugin: name.to_string(),
            source,
        }),
    }
}

fn no_args(name: &str, value: Option<&serde_json::Value>) -> Result<(), PluginError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(serde_json::Value::Object(m)) if m.is_empty() => Ok(()),
        Some(_) => Err(PluginError::BadArgs {
            plugin: name.to_string(),
            message: "this plugin takes no args".into(),
        }),
    }
}

/// Plugin names → constructors.
#[derive(Debug, Clone)]
pub struct Registry {
    constructors: BTreeMap<&'static str, Constructor>,
}

impl Default for Registry {
    /// The in-tree plugins.
    fn default() -> Self {
        let mut r = Registry {
            constructors: BTreeMap::new(),
        };
        r.register(node_unschedulable::NAME, |a| {
            no_args(node_unschedulable::NAME, a)?;
            Ok(Arc::new(node_unschedulable::NodeUnschedulable))
        });
        r.register(node_name::NAME, |a| {
            no_args(node_name::NAME, a)?;
            Ok(Arc::new(node_name::NodeName))
        });
        r.register(node_ports::NAME, |a| {
            no_args(node_ports::NAME, a)?;
            Ok(Arc::new(node_ports::NodePorts))
        });
        r.register(taint_toleration::NAME, |a| {
            no_args(taint_toleration::NAME, a)?;
            Ok(Arc::new(taint_toleration::TaintToleration))
        });
        r.register(image_locality::NAME, |a| {
            no_args(image_locality::NAME, a)?;
            Ok(Arc::new(image_locality::ImageLocality))
        });
        r.register(pod_topology_spread::NAME, |_| {
            Ok(Arc::new(pod_topology_spread::PodTopologySpread))
        });
        r.register(node_resources_fit::NAME, |a| {
            Ok(Arc::new(node_resources_fit::NodeResourcesFit::new(args(
                node_resources_fit::NAME,
                a,
            )?)))
        });
        r.register(balanced_allocation::NAME, |a| {
            Ok(Arc::new(balanced_allocation::BalancedAllocation::new(
                args(balanced_allocation::NAME, a)?,
            )))
        });
        r.register(inter_pod_affinity::NAME, |a| {
            Ok(Arc::new(inter_pod_affinity::InterPodAffinity::new(args(
                inter_pod_affinity::NAME,
                a,
            )?)))
        });
        r.register(node_affinity::NAME, |a| {
            node_affinity::NodeAffinity::new(args(node_affinity::NAME, a)?)
                .map(|p| Arc::new(p) as Arc<dyn Plugin>)
                .map_err(|e| PluginError::BadArgs {
                    plugin: node_affinity::NAME.to_string(),
                    message: e.to_string(),
                })
        });
        r
    }
}

impl Registry {
    /// Adds (or replaces) a plugin constructor, e.g. an out-of-tree plugin.
    pub fn register(&mut self, name: &'static str, constructor: Constructor) {
        self.constructors.insert(name, constructor);
    }

    /// True when a plugin of this name is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.constructors.contains_key(name)
    }

    /// Builds the named plugin.
    pub fn build(
        &self,
        name: &str,
        args: Option<&serde_json::Value>,
    ) -> Result<Arc<dyn Plugin>, PluginError> {
        let constructor = self
            .constructors
            .get(name)
            .ok_or_else(|| PluginError::Unknown(name.to_string()))?;
        constructor(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_plugin_builds_under_its_own_name() {
        let registry = Registry::default();
        for name in registry.constructors.keys() {
            let plugin = registry.build(name, None);
            assert_eq!(plugin.map(|p| p.name()).ok(), Some(*name));
        }
    }

    #[test]
    fn unknown_names_and_bad_args_are_errors() {
        let registry = Registry::default();
        assert!(matches!(
            registry.build("Nope", None),
            Err(PluginError::Unknown(_))
        ));
        let bad = serde_json::json!({"scoringStrategy": {"type": "Sideways"}});
        assert!(matches!(
            registry.build(node_resources_fit::NAME, Some(&bad)),
            Err(PluginError::InvalidArgs { .. })
        ));
        let unexpected = serde_json::json!({"x": 1});
        assert!(matches!(
            registry.build(node_name::NAME, Some(&unexpected)),
            Err(PluginError::BadArgs { .. })
        ));
    }
}
