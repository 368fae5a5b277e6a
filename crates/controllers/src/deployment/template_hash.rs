//! The `pod-template-hash` label: names a ReplicaSet after its pod template, so a template
//! seen before maps back to the same ReplicaSet (upstream `controller.ComputeHash`: FNV-32a of
//! the template, then the collision count, printed as decimal and re-encoded with
//! `rand.SafeEncodeString`, which gives kubectl's familiar `web-7c5ddbdf54` names).

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The label (and selector key) carrying the hash.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Upstream's alphabet without vowels and confusable characters.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv1a(hash: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(hash, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(FNV_PRIME)
    })
}

/// Maps each character of `text` into the safe alphabet (upstream `SafeEncodeString`).
fn safe_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            let index = usize::from(byte) % SAFE_ALPHABET.len();
            char::from(SAFE_ALPHABET.get(index).copied().unwrap_or(b'x'))
        })
        .collect()
}

/// The hash of `template` (with the hash label itself removed, so re-hashing a ReplicaSet's
/// template gives its own hash) and `collision_count`.
pub fn compute(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let canonical = serde_json::to_vec(&without_hash(template)).unwrap_or_default();
    hash_bytes(&canonical, collision_count)
}

/// The safe-encoded FNV-32a hash of `bytes` and `collision_count` (shared with
/// ControllerRevision names, upstream `history.HashControllerRevision`).
pub fn hash_bytes(bytes: &[u8], collision_count: Option<i32>) -> String {
    let mut hash = fnv1a(FNV_OFFSET, bytes);
    if let Some(count) = collision_count {
        hash = fnv1a(hash, &count.to_le_bytes());
    }
    safe_encode(&hash.to_string())
}

/// `template` without the `pod-template-hash` label (upstream `EqualIgnoreHash` compares
/// templates this way).
pub fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut template = template.clone();
    if let Some(labels) = template
        .metadata
        .as_mut()
        .and_then(|meta| meta.labels.as_mut())
    {
        labels.remove(POD_TEMPLATE_HASH);
    }
    template
}

/// Whether two templates are the same apart from the hash label.
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    without_hash(a) == without_hash(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    fn template(image: &str, hash: Option<&str>) -> PodTemplateSpec {
        let mut labels = std::collections::BTreeMap::from([("app".to_owned(), "web".to_owned())]);
        if let Some(hash) = hash {
            labels.insert(POD_TEMPLATE_HASH.to_owned(), hash.to_owned());
        }
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels),
                ..ObjectMeta::default()
            }),
            spec: Some(k8s_openapi::api::core::v1::PodSpec {
                containers: vec![k8s_openapi::api::core::v1::Container {
                    name: "web".to_owned(),
                    image: Some(image.to_owned()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_hash_depends_on_the_template_and_collisions_only() {
        let nginx = compute(&template("nginx:1", None), None);
        assert_eq!(
            nginx,
            compute(&template("nginx:1", Some("whatever")), None),
            "the hash label is ignored"
        );
        assert_ne!(nginx, compute(&template("nginx:2", None), None));
        assert_ne!(nginx, compute(&template("nginx:1", None), Some(1)));
        assert!(
            nginx.bytes().all(|byte| SAFE_ALPHABET.contains(&byte)),
            "{nginx}"
        );
        assert!((1..=10).contains(&nginx.len()), "{nginx}");
    }

    #[test]
    fn safe_encoding_maps_digits_like_upstream() {
        // Digits are bytes 48..57; 48 % 27 = 21, the alphabet's 22nd character, `4`.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn templates_differing_only_in_the_hash_label_are_equal() {
        assert!(equal_ignoring_hash(
            &template("a", Some("x")),
            &template("a", None)
        ));
        assert!(!equal_ignoring_hash(
            &template("a", Some("x")),
            &template("b", Some("x"))
        ));
    }
}
