//! The component tests: one binary, one module per subject, so they link
//! once. Each test starts its own processes on their own ports and temp
//! folders, so the modules share nothing but the binaries under test.

mod access_log;
mod admin;
mod browser;
mod check;
mod config_file;
mod crd_modern;
mod depot_disk_full;
mod depot_durability;
mod embedded;
mod env_and_logs;
mod git_large;
mod local_mode;
mod metrics;
mod operator;
mod operator_access;
mod operator_depot;
mod operator_depot_status;
mod operator_malformed;
mod operator_mock;
mod operator_sidecars;
mod operator_tls;
mod provisions_dir;
mod shutdown;
mod static_site;
