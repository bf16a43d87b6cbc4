//! A response that is not to be sent: a backend (a mock's `fault: close`
//! or `fault: reset`) asks the connection to end instead of answering, by
//! putting an [`Abort`] in the response's extensions. The lane and the
//! hand-off to hyper look for it before writing anything.
//!
//! A reset is a close with `SO_LINGER` 0: the kernel sends RST instead of
//! FIN and drops what is unsent, as a crashed or firewalled server does.
//! `setsockopt` on the raw descriptor is the one `unsafe` call: hyper's
//! service never holds the socket, only its number.
#![allow(unsafe_code)]

use std::os::fd::RawFd;

/// How the connection ends instead of answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Abort {
    /// Close it (FIN) without a response.
    Close,
    /// Reset it (RST) without a response.
    Reset,
}

/// The socket under a connection, to reset it from where only the
/// request is known (hyper's service). `None` for a stream that is no
/// socket (tests' in-memory pipes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resettable(pub(crate) Option<RawFd>);

impl Resettable {
    /// Makes the socket's close a reset. Call it only while the
    /// connection is open (the descriptor is its).
    pub(crate) fn reset_on_close(self) {
        let Some(fd) = self.0 else { return };
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: `fd` is the open socket of the connection being served;
        // `linger` is a valid `struct linger` of the size given.
        let done = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&raw const linger).cast(),
                size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        if done != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "could not make the close a reset");
        }
    }
}

/// The error a hyper service returns to end the connection (HTTP/1) or
/// reset the stream (HTTP/2) without a response.
#[derive(Debug)]
pub(crate) struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the backend asked for the connection to end without a response")
    }
}

impl std::error::Error for Aborted {}
