//! twins
