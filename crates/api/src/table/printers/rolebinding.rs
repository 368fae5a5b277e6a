//! `kubectl get rolebindings` and `clusterrolebindings`: NAME ROLE AGE,
//! wide USERS GROUPS SERVICEACCOUNTS (`printRoleBinding`,
//! `printClusterRoleBinding`: the same table).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::{array_at, str_at};
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints role bindings and cluster role bindings.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoleBindingPrinter;

/// Users, groups and service accounts (`namespace/name`) of the subjects
/// (`rbac.SubjectsStrings`).
fn subjects(obj: &Value) -> [String; 3] {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut accounts = Vec::new();
    for s in array_at(obj, &["subjects"]) {
        let name = str_at(s, &["name"]);
        match str_at(s, &["kind"]) {
            "User" => users.push(name.to_owned()),
            "Group" => groups.push(name.to_owned()),
            "ServiceAccount" => accounts.push(format!("{}/{name}", str_at(s, &["namespace"]))),
            _ => {}
        }
    }
    [users.join(", "), groups.join(", "), accounts.join(", ")]
}

impl Printer for RoleBindingPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::string("Role", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace."),
            Column::age(),
            Column::string("Users", "Users in the roleBinding").wide(),
            Column::string("Groups", "Groups in the roleBinding").wide(),
            Column::string("ServiceAccounts", "ServiceAccounts in the roleBinding").wide(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let role = format!(
            "{}/{}",
            str_at(obj, &["roleRef", "kind"]),
            str_at(obj, &["roleRef", "name"])
        );
        let [users, groups, accounts] = subjects(obj);
        vec![
            name_cell(obj),
            Value::from(role),
            age_cell(obj, now),
            Value::from(users),
            Value::from(groups),
            Value::from(accounts),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prints_role_and_subjects() {
        let rb = json!({"metadata": {"name": "admins"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "Group", "name": "system:masters"}, {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                         {"kind": "ServiceAccount", "namespace": "kube-system", "name": "ci"}]});
        let cells = RoleBindingPrinter.cells(&rb, SystemTime::UNIX_EPOCH);
        assert_eq!(cells[1], json!("ClusterRole/cluster-admin"));
        assert_eq!(
            cells[3..],
            [
                json!("alice, bob"),
                json!("system:masters"),
                json!("kube-system/ci")
            ]
        );
    }
}
