//! What the volume printers share: access modes as `RWO,ROX,…`
//! (`GetAccessModesAsString`) and the storage class of a volume or claim,
//! where the legacy beta annotation wins over the field
//! (`GetPersistentVolumeClass`).

use serde_json::Value;

use crate::json_path::{array_at, get, str_at};

/// Modes in upstream's order with their short forms.
const ACCESS_MODES: [(&str, &str); 4] = [
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
];

/// `RWO,RWX`, each mode once, in upstream's order.
pub(super) fn access_modes(modes: &[Value]) -> String {
    ACCESS_MODES
        .iter()
        .filter(|(long, _)| modes.iter().any(|m| m.as_str() == Some(*long)))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// The class of a PV or PVC.
pub(super) fn storage_class(obj: &Value) -> String {
    let annotation = get(
        obj,
        &[
            "metadata",
            "annotations",
            "volume.beta.kubernetes.io/storage-class",
        ],
    );
    match annotation.and_then(Value::as_str) {
        Some(class) => class.to_owned(),
        None => str_at(obj, &["spec", "storageClassName"]).to_owned(),
    }
}

/// `spec.volumeMode` and `spec.volumeAttributesClassName`, or `<unset>`.
pub(super) fn unset_or(obj: &Value, field: &str) -> Value {
    let v = str_at(obj, &["spec", field]);
    Value::from(if v.is_empty() { "<unset>" } else { v })
}

/// A quantity as stored, or Go's zero quantity `0`.
pub(super) fn quantity(obj: &Value, path: &[&str]) -> String {
    match get(obj, path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_owned(),
    }
}

/// The access modes at `path`.
pub(super) fn modes_at(obj: &Value, path: &[&str]) -> String {
    access_modes(array_at(obj, path))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn helpers_follow_upstream() {
        assert_eq!(
            access_modes(&[
                json!("ReadWriteMany"),
                json!("ReadWriteOnce"),
                json!("ReadWriteOnce")
            ]),
            "RWO,RWX"
        );
        let annotated = json!({"metadata": {"annotations": {"volume.beta.kubernetes.io/storage-class": "old"}}, "spec": {"storageClassName": "new"}});
        assert_eq!(storage_class(&annotated), "old");
        assert_eq!(
            storage_class(&json!({"spec": {"storageClassName": "new"}})),
            "new"
        );
        assert_eq!(unset_or(&json!({}), "volumeMode"), json!("<unset>"));
        assert_eq!(quantity(&json!({}), &["spec", "capacity", "storage"]), "0");
    }
}
