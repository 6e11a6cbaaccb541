//! The `grpc-double` binary as users run it.
