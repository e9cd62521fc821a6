"""The site measures its own AI: site report and site calibration (no Qt, no TensorFlow)."""
