//! The ConvNet engine: layers with forward and backward, network specs, SGD. No UI dependency.
