//! Who asked for a certificate: on create, a CertificateSigningRequest's
//! `spec.username`, `spec.uid` and `spec.groups` are set from the
//! authenticated caller, whatever the client sent (upstream
//! `pkg/registry/certificates/certificates/strategy.go`,
//! `PrepareForCreate`). Approvers decide on them, so a client must not be
//! able to choose them.

use rkube_api::ResourceDef;
use serde_json::{json, Value};

use crate::authn::User;

/// Overwrites the requester fields of a new CSR; other kinds are left alone.
pub(super) fn record_requester(def: &ResourceDef, obj: &mut Value, user: Option<&User>) {
    if def.group != "certificates.k8s.io" || def.plural != "certificatesigningrequests" {
        return;
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.remove("uid");
    spec.remove("extra");
    match user {
        Some(user) => {
            spec.insert("username".into(), json!(user.name));
            spec.insert("groups".into(), json!(user.groups));
        }
        None => {
            spec.remove("username");
            spec.remove("groups");
        }
    }
}

#[cfg(test)]
mod tests {
    use rkube_api::Catalog;

    use super::*;

    #[test]
    fn a_csr_gets_the_callers_identity_and_other_kinds_are_untouched() {
        let catalog = Catalog::builtin();
        let csrs = catalog
            .get("certificates.k8s.io", "v1", "certificatesigningrequests")
            .expect("csr row");
        let config_maps = catalog.get("", "v1", "configmaps").expect("configmap row");
        let user = User::new("system:bootstrap:abcdef".into(), vec!["g".into()]);
        let mut csr =
            json!({"spec": {"username": "admin", "groups": ["system:masters"], "uid": "1"}});
        record_requester(csrs, &mut csr, Some(&user));
        assert_eq!(
            csr,
            json!({"spec": {"username": "system:bootstrap:abcdef", "groups": ["g", "system:authenticated"]}})
        );
        let mut cm = json!({"spec": {"username": "admin"}});
        record_requester(config_maps, &mut cm, Some(&user));
        assert_eq!(cm, json!({"spec": {"username": "admin"}}));
    }
}
