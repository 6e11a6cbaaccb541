//! Where builder stubs go: a server or one of its sessions, and the handle a mount returns.

use std::sync::Arc;

use crate::{
    error::{ErrorKind, Result},
    fake::{
        model::Stub,
        serve::{Control, StubInfo},
    },
};

// The sealed-trait pattern: `Sealed` cannot be named outside the crate, so its method may
// return crate types.
#[allow(private_interfaces)]
pub(crate) mod sealed {
    use std::sync::Arc;

    use crate::{Schema, fake::serve::Control};

    /// Where a mount goes: the schema stubs are checked against, the server's control, the
    /// session. Private, so only this crate's types are targets.
    pub trait Sealed {
        fn mount_point(&self) -> (&Schema, &Arc<Control>, Option<&str>);
    }
}

/// Where a stub is mounted: a [`FakeServer`](crate::FakeServer) (shared stubs) or one of its
/// [`Session`](crate::Session)s.
pub trait MountTarget: sealed::Sealed {}

/// A stub added to a running server.
#[derive(Debug, Clone)]
pub struct MountedStub {
    uid: u64,
    session: Option<String>,
    control: Arc<Control>,
}

impl MountedStub {
    pub(crate) fn add(
        control: &Arc<Control>,
        stub: Stub,
        definition: serde_json::Value,
        session: Option<&str>,
    ) -> Result<MountedStub> {
        let added = control
            .add(vec![(stub, Some(definition))], session)
            .map_err(|message| ErrorKind::Harness {
                message,
                help: None,
            })?;
        Ok(MountedStub {
            uid: added.first().map_or(0, |s| s.uid),
            session: session.map(str::to_owned),
            control: control.clone(),
        })
    }

    /// Gets the server's number for the stub.
    pub fn uid(&self) -> u64 {
        self.uid
    }

    /// Gets how many calls it answered.
    pub fn calls(&self) -> u64 {
        self.info().map_or(0, |s| s.calls)
    }

    /// Gets the stub as the admin API lists it (`None` once removed).
    pub fn info(&self) -> Option<StubInfo> {
        self.control
            .find(&self.uid.to_string(), self.session.as_deref())
            .map(|(info, _)| info)
    }

    /// Removes it from the server.
    pub fn remove(self) {
        let _ = self
            .control
            .remove(&self.uid.to_string(), self.session.as_deref());
    }
}
