//! Which trains and seats of a leftTicket page a watch cares about (pure).
//!
//! HELPER-OWNED.
