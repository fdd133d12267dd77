//! The built-in simulated 12306 upstream. HELPER-OWNED.
