//! Data: loaders, splits, preprocessing, augmentation and batching. No UI dependency.
