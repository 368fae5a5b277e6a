//! `kubectl get csr`: NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION
//! CONDITION (`printCertificateSigningRequest`, `extractCSRStatus`).

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::json_path::{array_at, i64_at, str_at};
use crate::table::{age_cell, human_duration, name_cell, Column, Printer};

/// Prints certificate signing requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct CertificateSigningRequestPrinter;

/// `Approved`, `Denied` or `Pending`, then `,Failed` and `,Issued`.
fn condition(obj: &Value) -> String {
    let has = |kind: &str| {
        array_at(obj, &["status", "conditions"])
            .iter()
            .any(|c| str_at(c, &["type"]) == kind)
    };
    let mut status = if has("Denied") {
        "Denied".to_owned()
    } else if has("Approved") {
        "Approved".to_owned()
    } else {
        "Pending".to_owned()
    };
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !str_at(obj, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    status
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "<none>"
    } else {
        s
    }
}

impl Printer for CertificateSigningRequestPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::age(),
            Column::string("SignerName", "signerName indicates the requested signer, and is a qualified name."),
            Column::string("Requestor", "request contains an x509 certificate signing request encoded in a \"CERTIFICATE REQUEST\" PEM block."),
            Column::string("RequestedDuration", "expirationSeconds is the requested duration of validity of the issued certificate."),
            Column::string("Condition", "conditions applied to the request. Known conditions are \"Approved\", \"Denied\", and \"Failed\"."),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let duration = i64_at(obj, &["spec", "expirationSeconds"]).map_or_else(
            || "<none>".to_owned(),
            |s| human_duration(Duration::from_secs(s.unsigned_abs())),
        );
        vec![
            name_cell(obj),
            age_cell(obj, now),
            Value::from(or_none(str_at(obj, &["spec", "signerName"]))),
            Value::from(str_at(obj, &["spec", "username"])),
            Value::from(duration),
            Value::from(condition(obj)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_conditions() {
        let csr = json!({"metadata": {"name": "node-csr"}, "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet", "username": "system:node:n1", "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved"}], "certificate": "LS0t"}});
        let cells = CertificateSigningRequestPrinter.cells(&csr, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[2..],
            [
                json!("kubernetes.io/kube-apiserver-client-kubelet"),
                json!("system:node:n1"),
                json!("24h"),
                json!("Approved,Issued")
            ]
        );
        assert_eq!(condition(&json!({})), "Pending");
    }
}
