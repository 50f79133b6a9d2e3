//! `tenantd status` before any tenant has a status: nothing is wrong (exit 0, and JSON or YAML
//! output is still a valid empty list), but stderr says where it looked and what writes status.

mod support;

use support::*;

fn assert_hint(err: &str, env: &Env) {
    let hint = err.lines().find(|l| l.starts_with("hint: ")).unwrap_or_else(|| panic!("no hint:\n{err}"));
    let dir = env.state.join("status");
    for part in ["no tenant has a status yet", dir.to_str().unwrap(), "tenantd apply", "tenantd run"] {
        assert!(hint.contains(part), "the hint does not mention {part:?}: {hint}");
    }
}

#[test]
fn status_with_no_status_files_says_where_it_looked_and_what_writes_them() {
    let env = Env::without_docker();
    // Before the state directory exists, and once it does but holds no status file.
    for prepared in [false, true] {
        if prepared {
            std::fs::create_dir_all(env.state.join("status")).unwrap();
        }
        let o = env.tenantd(&["status"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).starts_with("TENANT"), "the table is still printed: {}", stdout(&o));
        assert_hint(&stderr(&o), &env);

        let o = env.tenantd(&["status", "-o", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let list: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON on stdout");
        assert_eq!(list, serde_json::json!([]));
        assert_hint(&stderr(&o), &env);

        let o = env.tenantd(&["status", "-o", "yaml"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let list: serde_yaml::Value = serde_yaml::from_str(&stdout(&o)).expect("YAML on stdout");
        assert_eq!(list, serde_yaml::Value::Sequence(vec![]));
        assert_hint(&stderr(&o), &env);
    }
}
