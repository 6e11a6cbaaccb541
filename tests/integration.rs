//! The one integration-test binary (one link step keeps CI fast on 2 cores).

// Shared helpers: starting servers, typed clients, insta settings.
mod common;
// The fake server end to end: typed tonic clients against the bundled fixtures and custom ones.
mod serve;
// Serve behaviour as case folders (fixtures/serve/<case>/{stubs,calls}.yaml), snapshot-tested.
mod serve_cases;
// Documentation examples: each is a tested fixture, or loads.
mod docs;
// Transport faults seen with a raw HTTP/2 client: GOAWAY, outages, trailers-only, resets.
mod faults;
// The standard gRPC interop cases against fixtures/interop, with a typed client.
mod interop;
// Fixture validation: every kind of bad fixture, located and snapshot-tested.
mod serve_fixtures;
// A property of the fixture loader: any message written as a reply decodes as written.
mod fixture_property;
// The Rust test harness: builder stubs, verify, sessions, verify-on-drop, hot reload, reports.
mod harness;
// Hostile and buggy clients: every limit holds and a well-behaved client is still served.
mod hardening;
// TLS and mutual TLS listeners beside cleartext ones.
mod tls;
// The admin HTTP API over real HTTP/1.1: every endpoint, the token, limits, sessions.
mod admin;
// The `grpc-double` binary as users run it: exit codes, ready file, calls.
mod cli;
// Editions sources (through protoc): features, round trips, check and serve.
mod editions;
// The crate's layers, read from src/: imports only point down.
mod layering;
// The contract checker: per-rule fixture pairs, registry, config, inputs, formats, CLI.
mod breaking;
// Property-tested round trips, old-writer/new-reader checks and the `roundtrip` command.
mod roundtrip;
// The breaking checker's rule fixtures against the round-trip property's verdicts.
mod contracts;
