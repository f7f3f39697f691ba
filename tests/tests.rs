//! Integration tests: the `wardtwin` program end to end, as a user runs it.
//! One binary; each module is one concern.

mod suite;
