//! The wrappers here (I/O that watches one direction, bodies that watch
//! frames) pass the rest through untouched; these macros write that once.

/// The body of an `AsyncWrite` impl that hands every call to `self.$field`.
macro_rules! write_through {
    ($field:ident) => {
        fn poll_write(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            buf: &[u8],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::std::pin::Pin::new(&mut self.$field).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            bufs: &[::std::io::IoSlice<'_>],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::std::pin::Pin::new(&mut self.$field).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            self.$field.is_write_vectored()
        }

        fn poll_flush(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::std::pin::Pin::new(&mut self.$field).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::std::pin::Pin::new(&mut self.$field).poll_shutdown(cx)
        }
    };
}

/// In an `http_body::Body` impl that wraps `self.$field`: its end and size,
/// which the wrapper leaves as they are.
macro_rules! body_hints_through {
    ($field:ident) => {
        fn is_end_stream(&self) -> bool {
            self.$field.is_end_stream()
        }

        fn size_hint(&self) -> ::http_body::SizeHint {
            self.$field.size_hint()
        }
    };
}
