//! Field numbers of the upstream messages this server decodes (from the
//! `generated.proto` files of k8s.io/api and apimachinery), as tables: one
//! per message, only the fields a client sets on create. Go structs embedded
//! in another (`LocalObjectReference`, `VolumeSource`, `ProbeHandler`,
//! `IngressRuleValue`) are [`Field::Inline`]: their fields sit in the parent's
//! JSON object.

use super::{Field, Message};

const OBJECT_META: Message = &[
    (1, Field::Str("name")),
    (2, Field::Str("generateName")),
    (3, Field::Str("namespace")),
    (5, Field::Str("uid")),
    (6, Field::Str("resourceVersion")),
    (7, Field::Int("generation")),
    (11, Field::StrMap("labels")),
    (12, Field::StrMap("annotations")),
    (13, Field::Msgs("ownerReferences", OWNER_REFERENCE)),
    (14, Field::Strings("finalizers")),
];

const OWNER_REFERENCE: Message = &[
    (1, Field::Str("kind")),
    (3, Field::Str("name")),
    (4, Field::Str("uid")),
    (5, Field::Str("apiVersion")),
    (6, Field::Bool("controller")),
    (7, Field::Bool("blockOwnerDeletion")),
];

const LOCAL_OBJECT_REFERENCE: Message = &[(1, Field::Str("name"))];

const OBJECT_REFERENCE: Message = &[
    (1, Field::Str("kind")),
    (2, Field::Str("namespace")),
    (3, Field::Str("name")),
    (4, Field::Str("uid")),
    (5, Field::Str("apiVersion")),
];

const CONFIG_MAP: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::StrMap("data")),
    (3, Field::BytesMap("binaryData")),
    (4, Field::Bool("immutable")),
];

const SECRET: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::BytesMap("data")),
    (3, Field::Str("type")),
    (4, Field::StrMap("stringData")),
    (5, Field::Bool("immutable")),
];

const NAMESPACE: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msg("spec", &[(1, Field::Strings("finalizers"))])),
];

const SERVICE_ACCOUNT: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msgs("secrets", OBJECT_REFERENCE)),
    (3, Field::Msgs("imagePullSecrets", LOCAL_OBJECT_REFERENCE)),
    (4, Field::Bool("automountServiceAccountToken")),
];

const DELETE_OPTIONS: Message = &[
    (1, Field::Int("gracePeriodSeconds")),
    (
        2,
        Field::Msg(
            "preconditions",
            &[(1, Field::Str("uid")), (2, Field::Str("resourceVersion"))],
        ),
    ),
    (3, Field::Bool("orphanDependents")),
    (4, Field::Str("propagationPolicy")),
    (5, Field::Strings("dryRun")),
];

const LABEL_SELECTOR: Message = &[
    (1, Field::StrMap("matchLabels")),
    (
        2,
        Field::Msgs(
            "matchExpressions",
            &[
                (1, Field::Str("key")),
                (2, Field::Str("operator")),
                (3, Field::Strings("values")),
            ],
        ),
    ),
];

const CONTAINER_PORT: Message = &[
    (1, Field::Str("name")),
    (2, Field::Int("hostPort")),
    (3, Field::Int("containerPort")),
    (4, Field::Str("protocol")),
    (5, Field::Str("hostIP")),
];

/// `optional` of the env/volume sources that reference a ConfigMap or Secret
/// by an embedded `LocalObjectReference`.
const NAMED_REF_OPTIONAL: Message = &[
    (1, Field::Inline(LOCAL_OBJECT_REFERENCE)),
    (2, Field::Bool("optional")),
];

const KEY_SELECTOR: Message = &[
    (1, Field::Inline(LOCAL_OBJECT_REFERENCE)),
    (2, Field::Str("key")),
    (3, Field::Bool("optional")),
];

const ENV_VAR: Message = &[
    (1, Field::Str("name")),
    (2, Field::Str("value")),
    (
        3,
        Field::Msg(
            "valueFrom",
            &[
                (
                    1,
                    Field::Msg(
                        "fieldRef",
                        &[(1, Field::Str("apiVersion")), (2, Field::Str("fieldPath"))],
                    ),
                ),
                (
                    2,
                    Field::Msg(
                        "resourceFieldRef",
                        &[
                            (1, Field::Str("containerName")),
                            (2, Field::Str("resource")),
                            (3, Field::Quantity("divisor")),
                        ],
                    ),
                ),
                (3, Field::Msg("configMapKeyRef", KEY_SELECTOR)),
                (4, Field::Msg("secretKeyRef", KEY_SELECTOR)),
            ],
        ),
    ),
];

const ENV_FROM_SOURCE: Message = &[
    (1, Field::Str("prefix")),
    (2, Field::Msg("configMapRef", NAMED_REF_OPTIONAL)),
    (3, Field::Msg("secretRef", NAMED_REF_OPTIONAL)),
];

const VOLUME_MOUNT: Message = &[
    (1, Field::Str("name")),
    (2, Field::Bool("readOnly")),
    (3, Field::Str("mountPath")),
    (4, Field::Str("subPath")),
    (5, Field::Str("mountPropagation")),
    (6, Field::Str("subPathExpr")),
];

const PROBE: Message = &[
    (
        1,
        Field::Inline(&[
            (1, Field::Msg("exec", &[(1, Field::Strings("command"))])),
            (
                2,
                Field::Msg(
                    "httpGet",
                    &[
                        (1, Field::Str("path")),
                        (2, Field::IntOrString("port")),
                        (3, Field::Str("host")),
                        (4, Field::Str("scheme")),
                    ],
                ),
            ),
            (
                3,
                Field::Msg(
                    "tcpSocket",
                    &[(1, Field::IntOrString("port")), (2, Field::Str("host"))],
                ),
            ),
        ]),
    ),
    (2, Field::Int("initialDelaySeconds")),
    (3, Field::Int("timeoutSeconds")),
    (4, Field::Int("periodSeconds")),
    (5, Field::Int("successThreshold")),
    (6, Field::Int("failureThreshold")),
];

const CONTAINER: Message = &[
    (1, Field::Str("name")),
    (2, Field::Str("image")),
    (3, Field::Strings("command")),
    (4, Field::Strings("args")),
    (5, Field::Str("workingDir")),
    (6, Field::Msgs("ports", CONTAINER_PORT)),
    (7, Field::Msgs("env", ENV_VAR)),
    (
        8,
        Field::Msg(
            "resources",
            &[
                (1, Field::QuantityMap("limits")),
                (2, Field::QuantityMap("requests")),
            ],
        ),
    ),
    (9, Field::Msgs("volumeMounts", VOLUME_MOUNT)),
    (10, Field::Msg("livenessProbe", PROBE)),
    (11, Field::Msg("readinessProbe", PROBE)),
    (13, Field::Str("terminationMessagePath")),
    (14, Field::Str("imagePullPolicy")),
    (16, Field::Bool("stdin")),
    (17, Field::Bool("stdinOnce")),
    (18, Field::Bool("tty")),
    (19, Field::Msgs("envFrom", ENV_FROM_SOURCE)),
    (20, Field::Str("terminationMessagePolicy")),
    (22, Field::Msg("startupProbe", PROBE)),
    (24, Field::Str("restartPolicy")),
];

const KEY_TO_PATH: Message = &[
    (1, Field::Str("key")),
    (2, Field::Str("path")),
    (3, Field::Int("mode")),
];

const VOLUME: Message = &[
    (1, Field::Str("name")),
    (
        2,
        Field::Inline(&[
            (
                1,
                Field::Msg(
                    "hostPath",
                    &[(1, Field::Str("path")), (2, Field::Str("type"))],
                ),
            ),
            (
                2,
                Field::Msg(
                    "emptyDir",
                    &[(1, Field::Str("medium")), (2, Field::Quantity("sizeLimit"))],
                ),
            ),
            (
                6,
                Field::Msg(
                    "secret",
                    &[
                        (1, Field::Str("secretName")),
                        (2, Field::Msgs("items", KEY_TO_PATH)),
                        (3, Field::Int("defaultMode")),
                        (4, Field::Bool("optional")),
                    ],
                ),
            ),
            (
                10,
                Field::Msg(
                    "persistentVolumeClaim",
                    &[(1, Field::Str("claimName")), (2, Field::Bool("readOnly"))],
                ),
            ),
            (
                19,
                Field::Msg(
                    "configMap",
                    &[
                        (1, Field::Inline(LOCAL_OBJECT_REFERENCE)),
                        (2, Field::Msgs("items", KEY_TO_PATH)),
                        (3, Field::Int("defaultMode")),
                        (4, Field::Bool("optional")),
                    ],
                ),
            ),
        ]),
    ),
];

const TOLERATION: Message = &[
    (1, Field::Str("key")),
    (2, Field::Str("operator")),
    (3, Field::Str("value")),
    (4, Field::Str("effect")),
    (5, Field::Int("tolerationSeconds")),
];

const POD_SPEC: Message = &[
    (1, Field::Msgs("volumes", VOLUME)),
    (2, Field::Msgs("containers", CONTAINER)),
    (3, Field::Str("restartPolicy")),
    (4, Field::Int("terminationGracePeriodSeconds")),
    (5, Field::Int("activeDeadlineSeconds")),
    (6, Field::Str("dnsPolicy")),
    (7, Field::StrMap("nodeSelector")),
    (8, Field::Str("serviceAccountName")),
    (10, Field::Str("nodeName")),
    (11, Field::Bool("hostNetwork")),
    (15, Field::Msgs("imagePullSecrets", LOCAL_OBJECT_REFERENCE)),
    (16, Field::Str("hostname")),
    (17, Field::Str("subdomain")),
    (19, Field::Str("schedulerName")),
    (20, Field::Msgs("initContainers", CONTAINER)),
    (21, Field::Bool("automountServiceAccountToken")),
    (22, Field::Msgs("tolerations", TOLERATION)),
    (24, Field::Str("priorityClassName")),
    (30, Field::Bool("enableServiceLinks")),
];

const POD_TEMPLATE_SPEC: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msg("spec", POD_SPEC)),
];

const DEPLOYMENT: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msg(
            "spec",
            &[
                (1, Field::Int("replicas")),
                (2, Field::Msg("selector", LABEL_SELECTOR)),
                (3, Field::Msg("template", POD_TEMPLATE_SPEC)),
                (
                    4,
                    Field::Msg(
                        "strategy",
                        &[
                            (1, Field::Str("type")),
                            (
                                2,
                                Field::Msg(
                                    "rollingUpdate",
                                    &[
                                        (1, Field::IntOrString("maxUnavailable")),
                                        (2, Field::IntOrString("maxSurge")),
                                    ],
                                ),
                            ),
                        ],
                    ),
                ),
                (5, Field::Int("minReadySeconds")),
                (6, Field::Int("revisionHistoryLimit")),
                (7, Field::Bool("paused")),
                (9, Field::Int("progressDeadlineSeconds")),
            ],
        ),
    ),
];

const SERVICE_PORT: Message = &[
    (1, Field::Str("name")),
    (2, Field::Str("protocol")),
    (3, Field::Int("port")),
    (4, Field::IntOrString("targetPort")),
    (5, Field::Int("nodePort")),
];

const SERVICE: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msg(
            "spec",
            &[
                (1, Field::Msgs("ports", SERVICE_PORT)),
                (2, Field::StrMap("selector")),
                (3, Field::Str("clusterIP")),
                (4, Field::Str("type")),
                (5, Field::Strings("externalIPs")),
                (7, Field::Str("sessionAffinity")),
                (10, Field::Str("externalName")),
                (11, Field::Str("externalTrafficPolicy")),
                (13, Field::Bool("publishNotReadyAddresses")),
                (17, Field::Str("ipFamilyPolicy")),
                (18, Field::Strings("clusterIPs")),
                (19, Field::Strings("ipFamilies")),
                (22, Field::Str("internalTrafficPolicy")),
            ],
        ),
    ),
];

const JOB_SPEC: Message = &[
    (1, Field::Int("parallelism")),
    (2, Field::Int("completions")),
    (3, Field::Int("activeDeadlineSeconds")),
    (4, Field::Msg("selector", LABEL_SELECTOR)),
    (5, Field::Bool("manualSelector")),
    (6, Field::Msg("template", POD_TEMPLATE_SPEC)),
    (7, Field::Int("backoffLimit")),
    (8, Field::Int("ttlSecondsAfterFinished")),
    (9, Field::Str("completionMode")),
    (10, Field::Bool("suspend")),
    (12, Field::Int("backoffLimitPerIndex")),
    (13, Field::Int("maxFailedIndexes")),
    (14, Field::Str("podReplacementPolicy")),
    (15, Field::Str("managedBy")),
];

const JOB: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msg("spec", JOB_SPEC)),
];

const CRON_JOB: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msg(
            "spec",
            &[
                (1, Field::Str("schedule")),
                (2, Field::Int("startingDeadlineSeconds")),
                (3, Field::Str("concurrencyPolicy")),
                (4, Field::Bool("suspend")),
                (5, Field::Msg("jobTemplate", JOB)),
                (6, Field::Int("successfulJobsHistoryLimit")),
                (7, Field::Int("failedJobsHistoryLimit")),
                (8, Field::Str("timeZone")),
            ],
        ),
    ),
];

const RESOURCE_QUOTA: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msg(
            "spec",
            &[
                (1, Field::QuantityMap("hard")),
                (2, Field::Strings("scopes")),
            ],
        ),
    ),
];

const PRIORITY_CLASS: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Int("value")),
    (3, Field::Bool("globalDefault")),
    (4, Field::Str("description")),
    (5, Field::Str("preemptionPolicy")),
];

const POLICY_RULE: Message = &[
    (1, Field::Strings("verbs")),
    (2, Field::Strings("apiGroups")),
    (3, Field::Strings("resources")),
    (4, Field::Strings("resourceNames")),
    (5, Field::Strings("nonResourceURLs")),
];

const ROLE: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msgs("rules", POLICY_RULE)),
];

const CLUSTER_ROLE: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msgs("rules", POLICY_RULE)),
    (
        3,
        Field::Msg(
            "aggregationRule",
            &[(1, Field::Msgs("clusterRoleSelectors", LABEL_SELECTOR))],
        ),
    ),
];

const ROLE_BINDING: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msgs(
            "subjects",
            &[
                (1, Field::Str("kind")),
                (2, Field::Str("apiGroup")),
                (3, Field::Str("name")),
                (4, Field::Str("namespace")),
            ],
        ),
    ),
    (
        3,
        Field::Msg(
            "roleRef",
            &[
                (1, Field::Str("apiGroup")),
                (2, Field::Str("kind")),
                (3, Field::Str("name")),
            ],
        ),
    ),
];

const POD_DISRUPTION_BUDGET: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msg(
            "spec",
            &[
                (1, Field::IntOrString("minAvailable")),
                (2, Field::Msg("selector", LABEL_SELECTOR)),
                (3, Field::IntOrString("maxUnavailable")),
                (4, Field::Str("unhealthyPodEvictionPolicy")),
            ],
        ),
    ),
];

const INGRESS_BACKEND: Message = &[(
    4,
    Field::Msg(
        "service",
        &[
            (1, Field::Str("name")),
            (
                2,
                Field::Msg(
                    "port",
                    &[(1, Field::Str("name")), (2, Field::Int("number"))],
                ),
            ),
        ],
    ),
)];

const INGRESS: Message = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msg(
            "spec",
            &[
                (1, Field::Msg("defaultBackend", INGRESS_BACKEND)),
                (
                    2,
                    Field::Msgs(
                        "tls",
                        &[(1, Field::Strings("hosts")), (2, Field::Str("secretName"))],
                    ),
                ),
                (
                    3,
                    Field::Msgs(
                        "rules",
                        &[
                            (1, Field::Str("host")),
                            (
                                2,
                                Field::Inline(&[(
                                    1,
                                    Field::Msg(
                                        "http",
                                        &[(
                                            1,
                                            Field::Msgs(
                                                "paths",
                                                &[
                                                    (1, Field::Str("path")),
                                                    (2, Field::Msg("backend", INGRESS_BACKEND)),
                                                    (3, Field::Str("pathType")),
                                                ],
                                            ),
                                        )],
                                    ),
                                )]),
                            ),
                        ],
                    ),
                ),
                (4, Field::Str("ingressClassName")),
            ],
        ),
    ),
];

/// The messages this server decodes, by `apiVersion` and `kind`.
pub(super) const MESSAGES: &[(&str, &str, Message)] = &[
    ("v1", "DeleteOptions", DELETE_OPTIONS),
    ("meta.k8s.io/v1", "DeleteOptions", DELETE_OPTIONS),
    ("v1", "ConfigMap", CONFIG_MAP),
    ("v1", "Secret", SECRET),
    ("v1", "Namespace", NAMESPACE),
    ("v1", "ServiceAccount", SERVICE_ACCOUNT),
    ("v1", "Service", SERVICE),
    ("v1", "ResourceQuota", RESOURCE_QUOTA),
    ("apps/v1", "Deployment", DEPLOYMENT),
    ("batch/v1", "Job", JOB),
    ("batch/v1", "CronJob", CRON_JOB),
    ("scheduling.k8s.io/v1", "PriorityClass", PRIORITY_CLASS),
    ("rbac.authorization.k8s.io/v1", "Role", ROLE),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", CLUSTER_ROLE),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", ROLE_BINDING),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        ROLE_BINDING,
    ),
    ("policy/v1", "PodDisruptionBudget", POD_DISRUPTION_BUDGET),
    ("networking.k8s.io/v1", "Ingress", INGRESS),
];
