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
    let out = tempdir();
    let status = Command::new(env!("CARGO_BIN_EXE_gatehouse-operator"))
        .args(["crds", "--out-dir"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/../crds");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let fresh = std::fs::read_to_string(out.join(&name)).unwrap();
        let kept = std::fs::read_to_string(format!("{committed}/{name}")).unwrap_or_default();
        assert!(
            kept == fresh,
            "crds/{name} is stale or missing: run `cargo run -p gatehouse-operator -- crds --out-dir crds` and commit it"
        );
        files.push(name);
    }
    files.sort();
    assert_eq!(
        files,
        ["depotrepo.yaml", "mockprovision.yaml", "route.yaml"]
    );
    // The one stream `crds` prints is the files, one after another.
    let stream: String = generated();
    for name in &files {
        let fresh = std::fs::read_to_string(out.join(name)).unwrap();
        let body = fresh.split_once("---\n").unwrap().1;
        assert!(stream.contains(body), "{name} is not in `crds`'s output");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gh-crds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
    for kind in ["service", "url", "static", "depot", "mock"] {
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

fn crd_named(name: &str) -> serde_json::Value {
    generated()
        .split("---\n")
        .skip(1)
        .map(|doc| serde_yaml::from_str::<serde_json::Value>(doc).unwrap())
        .find(|crd| crd["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no CRD {name} in `crds`"))
}

#[test]
fn the_depot_repo_crd_has_status_columns_and_its_option_rules() {
    let crd = crd_named("depotrepos.gatehouse.dev");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["kind"], "DepotRepo");
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], serde_json::json!({}));
    let columns: Vec<(&str, &str)> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Files", "integer"),
            ("Bytes", "integer"),
            ("Last change", "date"),
            ("Ready", "string"),
            ("Age", "date")
        ]
    );
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert_eq!(spec["depth"]["minimum"], 1.0);
    assert!(
        spec["maxFileSize"]["pattern"]
            .as_str()
            .unwrap()
            .contains("Mi")
    );
    assert_eq!(spec["corsWriteOrigins"]["maxItems"], 16);
    let groups_rule = spec["groups"]["x-kubernetes-validations"][0]["rule"]
        .as_str()
        .unwrap();
    assert_eq!(groups_rule, "has(self.allow) != has(self.deny)");
}

#[test]
fn the_mock_provision_crd_keeps_the_provision_whole_with_status_columns() {
    let crd = crd_named("mockprovisions.gatehouse.dev");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["shortNames"][0], "mockp");
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
        ["Rules", "Accepted", "Programmed", "Proxies", "Age"]
    );
    // The engine checks the provision (every error with its field): the
    // API server keeps its fields as they are.
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(spec["properties"]["className"]["type"], "string");
    // A mock backend names a provision or the provisions folder, not both.
    let route = crd_named("routes.gatehouse.dev");
    let mock = &route["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["rules"]["items"]["properties"]["backends"]["items"]["properties"]["mock"];
    assert_eq!(
        mock["x-kubernetes-validations"][0]["rule"],
        "has(self.provision) != has(self.provisionsDir)"
    );
}

/// The chart installs the CRDs from its own `crds/` folder (Helm's rule): those
/// files must be the generated ones, byte for byte.
#[test]
fn the_charts_crds_are_the_committed_ones() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let list = |dir: &str| {
        let mut names: Vec<String> = std::fs::read_dir(format!("{root}/{dir}"))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let committed = list("crds");
    assert_eq!(
        committed,
        list("helm/gatehouse/crds"),
        "helm/gatehouse/crds/ must hold the files of crds/: cp crds/*.yaml helm/gatehouse/crds/"
    );
    for name in &committed {
        let kept = std::fs::read(format!("{root}/crds/{name}")).unwrap();
        let charted = std::fs::read(format!("{root}/helm/gatehouse/crds/{name}")).unwrap();
        assert!(
            kept == charted,
            "helm/gatehouse/crds/{name} differs from crds/{name}: cp crds/*.yaml helm/gatehouse/crds/"
        );
    }
}
