//! How to run the apiserver.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rkube_api::Catalog;
use rkube_store::Store;

/// The apiserver's settings.
#[derive(Clone)]
pub struct Config {
    /// Where to listen (`0.0.0.0:6443` by default; `127.0.0.1:0` in tests).
    pub bind: SocketAddr,
    /// The directory for certificates (`tls/`) and `admin.kubeconfig`.
    pub data_dir: PathBuf,
    /// A static token file (`token,user,uid,"group1,group2"` lines).
    pub token_file: Option<PathBuf>,
    /// Extra names or addresses for the serving certificate.
    pub extra_sans: Vec<String>,
    /// The resources served.
    pub catalog: Arc<Catalog>,
    /// Where objects live.
    pub store: Arc<dyn Store>,
    /// NodePorts are allocated from here (`--service-node-port-range`).
    pub service_node_port_range: std::ops::RangeInclusive<u16>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("token_file", &self.token_file)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Settings with k3s's defaults: port 6443 on every address.
    pub fn new(data_dir: impl Into<PathBuf>, store: Arc<dyn Store>, catalog: Arc<Catalog>) -> Self {
        Config {
            bind: SocketAddr::from(([0, 0, 0, 0], 6443)),
            data_dir: data_dir.into(),
            token_file: None,
            extra_sans: Vec::new(),
            catalog,
            store,
            service_node_port_range: 30000..=32767,
        }
    }

    /// Allocates NodePorts from `range` instead of 30000–32767.
    pub fn service_node_port_range(mut self, range: std::ops::RangeInclusive<u16>) -> Self {
        self.service_node_port_range = range;
        self
    }

    /// Listens on `bind` instead.
    pub fn bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }

    /// Accepts the tokens of this file too.
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = Some(path.into());
        self
    }

    /// The certificate directory.
    pub fn tls_dir(&self) -> PathBuf {
        self.data_dir.join("tls")
    }

    /// Where the admin kubeconfig is written.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.data_dir.join("admin.kubeconfig")
    }
}
