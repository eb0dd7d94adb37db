//! Outputs over the event model.
