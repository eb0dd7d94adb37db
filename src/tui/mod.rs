//! Terminal UI.
