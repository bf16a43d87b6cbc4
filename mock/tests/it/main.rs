//! The mock engine driven as the proxy will drive it: provision text in,
//! answers out. No sockets.

mod collections;
mod errors;
mod examples;
mod faults;
mod matching;
mod order;
mod scenarios;
mod scripts;
mod support;
mod templates;
