//! HTTP pieces the server and the client sides share: hop-by-hop headers
//! and header names as nginx writes them.

pub mod header_case;
pub mod hop;
