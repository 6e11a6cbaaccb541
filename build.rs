//! Compiles `proto/users.proto` with protox (no protoc) into a descriptor set and a typed tonic
//! client. The library embeds neither: it compiles protos at run time. The integration tests use
//! the generated client to call the fake server the way a real user's code would.

use std::{env, error::Error, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let fds = protox::compile(["users.proto"], ["proto"])?;
    fs::write(out.join("users.binpb"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
