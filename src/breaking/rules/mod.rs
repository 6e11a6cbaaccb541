//! The rule functions, one per rule ID, grouped by the element they look at.

pub(crate) mod enums;
pub(crate) mod field;
pub(crate) mod file;
pub(crate) mod message;
pub(crate) mod service;
