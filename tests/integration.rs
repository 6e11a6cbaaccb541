//! One integration-test binary; each module is a suite.

// Property-tested round trips, old-writer/new-reader checks and the `roundtrip` command.
mod roundtrip;
