//! Certificates for joining nodes: `csrapproving` approves kubelet client
//! certificate requests from bootstrap token users and from nodes renewing
//! their own (upstream `pkg/controller/certificates/approver`), and
//! `csrsigning` issues approved ones with the cluster CA (upstream
//! `pkg/controller/certificates/signer`). `rkube agent --token` relies on
//! both (docs/rkube.md).

pub mod approve;
pub mod sign;

use std::sync::Arc;
use std::time::SystemTime;

use futures::future::{BoxFuture, FutureExt};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::ByteString;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::framework::{run_controller, Action, Context, DefaultState, Triggers};
use crate::registry::Descriptor;
use approve::{Decision, KUBELET_CLIENT_SIGNER};
use sign::Signer;

/// The `csrapproving` controller.
pub const APPROVING_DESCRIPTOR: Descriptor = Descriptor {
    name: "csrapproving",
    default: DefaultState::Enabled,
    start: start_approving,
};

/// The `csrsigning` controller.
pub const SIGNING_DESCRIPTOR: Descriptor = Descriptor {
    name: "csrsigning",
    default: DefaultState::Enabled,
    start: start_signing,
};

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the approval or the certificate failed.
    #[error("could not write the {what} of CertificateSigningRequest {name}")]
    Write {
        /// `approval` or `certificate`.
        what: &'static str,
        /// The request.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// The patch that sets a condition on a request, as `kubectl certificate
/// approve` does through the `approval` subresource.
fn condition_patch(type_: &str, reason: &str, message: &str) -> serde_json::Value {
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    json!({"status": {"conditions": [{
        "type": type_,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
    }]}})
}

fn start_approving(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let csrs = ctx.informer::<CertificateSigningRequest>();
        let triggers = Triggers::new().primary(&csrs);
        let state = Arc::new(ctx.client().clone());
        run_controller(&ctx, "csrapproving", &csrs, triggers, state, sync_approval).await;
        Ok(())
    }
    .boxed()
}

async fn sync_approval(
    csr: Arc<CertificateSigningRequest>,
    client: Arc<Client>,
) -> Result<Action, Error> {
    let Decision::Approve(message) = approve::decide(&csr) else {
        return Ok(Action::await_change());
    };
    let name = csr.metadata.name.clone().unwrap_or_default();
    let api: Api<CertificateSigningRequest> = Api::all((*client).clone());
    let patch = condition_patch("Approved", "AutoApproved", message);
    api.patch_subresource(
        "approval",
        &name,
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await
    .map_err(|source| Error::Write {
        what: "approval",
        name: name.clone(),
        source,
    })?;
    tracing::info!(csr = %name, "approved kubelet client certificate request");
    Ok(Action::await_change())
}

struct SigningState {
    client: Client,
    signer: Signer,
}

fn start_signing(ctx: Context) -> BoxFuture<'static, Result<(), crate::Error>> {
    async move {
        let settings = ctx.settings();
        let read = |path: &Option<std::path::PathBuf>| {
            path.as_ref().and_then(|p| std::fs::read_to_string(p).ok())
        };
        let signer = match (
            read(&settings.cluster_signing_cert_file),
            read(&settings.cluster_signing_key_file),
        ) {
            (Some(cert), Some(key)) => Signer::new(cert, key),
            _ => {
                tracing::info!("no cluster signing certificate and key given; csrsigning idle");
                ctx.shutdown().cancelled().await;
                return Ok(());
            }
        };
        let signer = match signer {
            Ok(signer) => signer,
            Err(error) => {
                tracing::error!(%error, "the cluster signing CA is unusable; csrsigning idle");
                ctx.shutdown().cancelled().await;
                return Ok(());
            }
        };
        let csrs = ctx.informer::<CertificateSigningRequest>();
        let triggers = Triggers::new().primary(&csrs);
        let state = Arc::new(SigningState {
            client: ctx.client().clone(),
            signer,
        });
        run_controller(&ctx, "csrsigning", &csrs, triggers, state, sync_signing).await;
        Ok(())
    }
    .boxed()
}

async fn sync_signing(
    csr: Arc<CertificateSigningRequest>,
    state: Arc<SigningState>,
) -> Result<Action, Error> {
    let issued = csr
        .status
        .as_ref()
        .and_then(|s| s.certificate.as_ref())
        .is_some_and(|c| !c.0.is_empty());
    if issued
        || csr.spec.signer_name != KUBELET_CLIENT_SIGNER
        || !approve::has_condition(&csr, &["Approved"])
        || approve::has_condition(&csr, &["Denied", "Failed"])
    {
        return Ok(Action::await_change());
    }
    let name = csr.metadata.name.clone().unwrap_or_default();
    let api: Api<CertificateSigningRequest> = Api::all(state.client.clone());
    let patch = match state
        .signer
        .sign(&csr, SystemTime::now(), sign::DEFAULT_DURATION)
    {
        Ok(pem) => json!({"status": {"certificate": ByteString(pem.into_bytes())}}),
        // A request that cannot be signed never will be: say so on it
        // (upstream sets the Failed condition with reason SignerValidationFailure).
        Err(error) => {
            tracing::warn!(csr = %name, %error, "cannot sign certificate request");
            condition_patch("Failed", "SignerValidationFailure", &error.to_string())
        }
    };
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(|source| Error::Write {
            what: "certificate",
            name: name.clone(),
            source,
        })?;
    tracing::info!(csr = %name, "signed certificate request");
    Ok(Action::await_change())
}
