//! The committed CRD YAML is what the code generates, and its schema carries
//! the rules the API server should enforce. (CEL rules are dropped by the
//! 1.20 test API server; they are checked here, on the generated schema.)

use std::process::Command;

fn generated() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse-operator"))
        .arg("crds")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_committed_crds_match_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../crds/route.yaml"))
            .unwrap();
    assert!(
        committed == generated(),
        "crds/route.yaml is stale: run `cargo run -p gatehouse-operator -- crds > crds/route.yaml` and commit it"
    );
}

fn route_schema() -> serde_json::Value {
    let text = generated();
    let crd: serde_json::Value = serde_yaml::from_str(text.split("---\n").nth(1).unwrap()).unwrap();
    assert_eq!(crd["metadata"]["name"], "routes.gatehouse.dev");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn backends_need_exactly_one_kind_and_a_weight_in_range() {
    let schema = route_schema();
    let backend = &schema["properties"]["spec"]["properties"]["rules"]["items"]["properties"]["backends"]
        ["items"];
    let rules = backend["x-kubernetes-validations"]
        .as_array()
        .expect("a CEL rule on backends");
    let rule = rules[0]["rule"].as_str().unwrap();
    for kind in ["service", "url", "static"] {
        assert!(rule.contains(&format!("has(self.{kind})")), "{rule}");
    }
    assert!(rule.ends_with("== 1"), "{rule}");
    assert_eq!(backend["properties"]["weight"]["maximum"], 1_000_000.0);
    assert_eq!(backend["properties"]["weight"]["minimum"], 0.0);
}

#[test]
fn the_crd_is_structural_with_status_printer_columns_and_a_short_name() {
    let text = generated();
    let crd: serde_json::Value = serde_yaml::from_str(text.split("---\n").nth(1).unwrap()).unwrap();
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["subresources"]["status"], serde_json::json!({}));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["Hostnames", "Accepted", "Programmed", "Proxies", "Age"]
    );
    assert_eq!(crd["spec"]["names"]["shortNames"][0], "gr");
    assert!(
        !text.contains("additionalProperties: false"),
        "structural schemas may not mix properties and additionalProperties"
    );
    let filter_types = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["rules"]
        ["items"]["properties"]["filters"]["items"]["properties"]["type"]["enum"];
    assert_eq!(filter_types.as_array().unwrap().len(), 4);
}
